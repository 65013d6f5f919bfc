// What an unknown address inside the app shows.
import { Link } from 'wouter';
import { he } from '../he';

export function NotFound() {
  return (
    <section className="flex flex-col items-start gap-3" data-testid="not-found">
      <h1 tabIndex={-1}>{he.common.notFound}</h1>
      <Link href="/" className="text-primary hover:underline">
        {he.nav.dashboard}
      </Link>
    </section>
  );
}
