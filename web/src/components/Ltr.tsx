// Bidi islands (docs/web.md, "RTL rules"). Inside the RTL page, text made
// of Latin digits and symbols (phones, prices, e-mails, call SIDs, times,
// latencies) is isolated as left-to-right, or "+972 50-123" renders as
// "50-123 972+"; text of unknown direction (names, transcripts, notes) is
// isolated with dir="auto" so an English name does not reorder its
// Hebrew neighbours.
import type { ReactNode } from 'react';
import { formatMoney, formatPhone } from '../lib/format';

interface IslandProps {
  children: ReactNode;
  className?: string;
  title?: string;
  testId?: string;
}

/** A left-to-right island: <bdi dir="ltr">. */
export function Ltr({ children, className, title, testId }: IslandProps) {
  return (
    <bdi dir="ltr" className={className} title={title} data-testid={testId}>
      {children}
    </bdi>
  );
}

/** Text whose direction is not known in advance: <bdi dir="auto">. */
export function Auto({ children, className, title, testId }: IslandProps) {
  return (
    <bdi dir="auto" className={className} title={title} data-testid={testId}>
      {children}
    </bdi>
  );
}

/** A phone number in local form, LTR, as a tel: link when `link`. */
export function Phone({ value, link = false, className }: { value: string | null | undefined; link?: boolean; className?: string }) {
  if (!value) return null;
  const shown = formatPhone(value);
  const island = (
    <Ltr className={`tabular-nums ${className ?? ''}`} testId="phone" title={value}>
      {shown}
    </Ltr>
  );
  return link ? (
    <a href={`tel:${value}`} className="text-primary hover:underline">
      {island}
    </a>
  ) : (
    island
  );
}

/** A price in shekels, LTR so digits and ₪ keep their order. */
export function Money({ value, className }: { value: number | null | undefined; className?: string }) {
  if (value === null || value === undefined) return null;
  return (
    <Ltr className={`tabular-nums ${className ?? ''}`} testId="money">
      {formatMoney(value)}
    </Ltr>
  );
}

/** An e-mail address, LTR. */
export function Email({ value }: { value: string | null | undefined }) {
  if (!value) return null;
  return <Ltr testId="email">{value}</Ltr>;
}
