// Small labelled values shown in lists and headers: call status,
// sentiment, lead score and stage. Colour is never the only signal (WCAG):
// each badge carries its Hebrew word, the score its number.
import type { ReactNode } from 'react';
import { he } from '../he';
import { Ltr } from './Ltr';

function Chip({ tone, children, testId }: { tone: 'ok' | 'warn' | 'bad' | 'info' | 'plain'; children: ReactNode; testId?: string }) {
  const tones = {
    ok: 'bg-success/10 text-success',
    warn: 'bg-warning/15 text-text',
    bad: 'bg-danger/10 text-danger',
    info: 'bg-primary/10 text-primary',
    plain: 'bg-muted text-text',
  } as const;
  return (
    <span className={`inline-flex items-center gap-1 whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium ${tones[tone]}`} data-testid={testId}>
      {children}
    </span>
  );
}

export function CallStatusBadge({ status }: { status: string }) {
  const label = (he.callStatus as Record<string, string>)[status] ?? status;
  const tone = status === 'completed' || status === 'transferred' ? 'plain' : status === 'in-progress' || status === 'ringing' ? 'info' : 'bad';
  return <Chip tone={tone} testId="call-status">{label}</Chip>;
}

const sentimentIcon: Record<string, string> = { positive: '☺', neutral: '•', negative: '☹', mixed: '±' };

export function SentimentBadge({ sentiment }: { sentiment: string | null | undefined }) {
  if (!sentiment) return null;
  const label = (he.sentiment as Record<string, string>)[sentiment] ?? sentiment;
  const tone = sentiment === 'positive' ? 'ok' : sentiment === 'negative' ? 'bad' : sentiment === 'mixed' ? 'warn' : 'plain';
  return (
    <Chip tone={tone} testId="sentiment">
      <span aria-hidden="true">{sentimentIcon[sentiment] ?? ''}</span>
      {label}
    </Chip>
  );
}

export function ScoreBadge({ score }: { score: number | null | undefined }) {
  if (score === null || score === undefined) return null;
  const tone = score >= 70 ? 'ok' : score >= 40 ? 'warn' : 'plain';
  return (
    <Chip tone={tone} testId="score">
      <Ltr className="tabular-nums">{score}</Ltr>
    </Chip>
  );
}

export function StageBadge({ stage }: { stage: string }) {
  const label = (he.stage as Record<string, string>)[stage] ?? stage;
  const tone = stage === 'won' ? 'ok' : stage === 'lost' ? 'bad' : 'info';
  return <Chip tone={tone} testId="stage">{label}</Chip>;
}
