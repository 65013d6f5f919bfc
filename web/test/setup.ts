// Test setup: every test renders into a document whose <html> carries the
// attributes of the real index.html (lang, dir), read from the file rather
// than written here, so a test can never pass by supplying a direction
// the app itself does not set. Also unmounts after each test.
import { cleanup } from '@testing-library/react';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach } from 'vitest';

const html = readFileSync(resolve(__dirname, '../index.html'), 'utf8');
const doc = new DOMParser().parseFromString(html, 'text/html');
for (const { name, value } of Array.from(doc.documentElement.attributes)) {
  document.documentElement.setAttribute(name, value);
}

afterEach(() => {
  cleanup();
});
