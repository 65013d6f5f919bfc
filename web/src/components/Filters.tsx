// The controls above a list: a debounced search box (typed text goes to
// the URL after a pause, so each keystroke is not a request) and labelled
// select filters whose first option means "all".
import { useEffect, useId, useState } from 'react';
import { he } from '../he';

export const SEARCH_DEBOUNCE_MS = 300;

export function SearchBox({ value, placeholder, onChange }: { value: string; placeholder: string; onChange: (v: string) => void }) {
  const [text, setText] = useState(value);
  const id = useId();
  useEffect(() => setText(value), [value]);
  useEffect(() => {
    if (text === value) return undefined;
    const t = setTimeout(() => onChange(text.trim()), SEARCH_DEBOUNCE_MS);
    return () => clearTimeout(t);
  }, [text, value, onChange]);
  return (
    <div className="min-w-[14rem] flex-1 sm:max-w-xs">
      <label htmlFor={id} className="label">
        {he.common.search}
      </label>
      <input
        id={id}
        type="search"
        dir="auto"
        className="input"
        placeholder={placeholder}
        value={text}
        onChange={(e) => setText(e.target.value)}
        data-testid="search"
      />
    </div>
  );
}

export function SelectFilter({
  label,
  value,
  options,
  onChange,
  testId,
}: {
  label: string;
  value: string;
  options: ReadonlyArray<readonly [string, string]>;
  onChange: (v: string) => void;
  testId: string;
}) {
  const id = useId();
  return (
    <div>
      <label htmlFor={id} className="label">
        {label}
      </label>
      <select id={id} className="input" value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId}>
        <option value="">{he.common.all}</option>
        {options.map(([v, l]) => (
          <option key={v} value={v}>
            {l}
          </option>
        ))}
      </select>
    </div>
  );
}
