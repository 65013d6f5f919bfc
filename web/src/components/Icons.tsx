// The few icons the UI draws, inline SVG (no icon font to download).
// Direction-aware ones are named by logical side: ChevronStart points to
// where reading starts (right in Hebrew), ChevronEnd to where it goes; they
// flip in LTR documents through `rtl:`/`ltr:` so no component ever says
// "left" or "right". Phone, play and search never mirror (crm-ui.md §2.4).
import type { SVGProps } from 'react';

type P = SVGProps<SVGSVGElement>;
const base = { width: 16, height: 16, viewBox: '0 0 24 24', fill: 'none', stroke: 'currentColor', strokeWidth: 2, strokeLinecap: 'round', strokeLinejoin: 'round', 'aria-hidden': true } as const;

/** Points toward the start of the line (right in RTL). */
export function ChevronStart(p: P) {
  return (
    <svg {...base} {...p} data-icon="chevron-start" className={`ltr:-scale-x-100 ${p.className ?? ''}`}>
      <path d="M9 6l6 6-6 6" />
    </svg>
  );
}

/** Points toward the end of the line (left in RTL). */
export function ChevronEnd(p: P) {
  return (
    <svg {...base} {...p} data-icon="chevron-end" className={`ltr:-scale-x-100 ${p.className ?? ''}`}>
      <path d="M15 6l-6 6 6 6" />
    </svg>
  );
}

export function SortAsc(p: P) {
  return (
    <svg {...base} {...p} data-icon="sort-asc">
      <path d="M12 19V5M6 11l6-6 6 6" />
    </svg>
  );
}

export function SortDesc(p: P) {
  return (
    <svg {...base} {...p} data-icon="sort-desc">
      <path d="M12 5v14M6 13l6 6 6-6" />
    </svg>
  );
}

export function SortNone(p: P) {
  return (
    <svg {...base} {...p} data-icon="sort-none" opacity={0.35}>
      <path d="M8 9l4-4 4 4M8 15l4 4 4-4" />
    </svg>
  );
}

export function PhoneIcon(p: P) {
  return (
    <svg {...base} {...p}>
      <path d="M22 16.9v3a2 2 0 0 1-2.2 2 19.8 19.8 0 0 1-8.6-3.1 19.5 19.5 0 0 1-6-6A19.8 19.8 0 0 1 2.1 4.2 2 2 0 0 1 4.1 2h3a2 2 0 0 1 2 1.7c.1 1 .4 1.9.7 2.8a2 2 0 0 1-.5 2.1L8 9.9a16 16 0 0 0 6 6l1.3-1.3a2 2 0 0 1 2.1-.4c.9.3 1.8.6 2.8.7a2 2 0 0 1 1.7 2z" />
    </svg>
  );
}

export function MenuIcon(p: P) {
  return (
    <svg {...base} width={20} height={20} {...p}>
      <path d="M3 6h18M3 12h18M3 18h18" />
    </svg>
  );
}

export function CloseIcon(p: P) {
  return (
    <svg {...base} width={20} height={20} {...p}>
      <path d="M6 6l12 12M18 6L6 18" />
    </svg>
  );
}

export function PlayIcon(p: P) {
  return (
    <svg {...base} {...p}>
      <path d="M7 4l13 8-13 8z" fill="currentColor" />
    </svg>
  );
}
