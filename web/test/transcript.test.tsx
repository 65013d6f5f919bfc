// The transcript (src/components/Transcript.tsx): caller and agent on
// opposite sides, what the caller heard vs what was generated and never
// played, interrupted turns marked "נקטע", the interrupting caller turn
// "התפרץ", offsets and latency per turn as LTR islands.
import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { CallEvent } from '../src/api/types';
import { Transcript, latencyTone, responseMs, splitTurn, transcriptRows } from '../src/components/Transcript';
import { turn } from './helpers';

const turns = [
  turn({ seq: 0, speaker: 'agent', heard_text: 'שלום, הגעתם לשי דירות.', generated_text: 'שלום, הגעתם לשי דירות.', start_ms: 0 }),
  turn({ seq: 1, speaker: 'caller', heard_text: 'אני מחפשת דירה בתל אביב', start_ms: 4000, latency: { end_of_turn_ms: 600, stt_ms: 420 } }),
  turn({
    seq: 2,
    speaker: 'agent',
    heard_text: 'מצוין.',
    generated_text: 'מצוין. כמה חדרים אתם מחפשים? ומה התקציב?',
    interrupted: true,
    start_ms: 9000,
    latency: { end_of_turn_ms: 600, stt_ms: 420, llm_first_token_ms: 380, tts_ms: 210, first_frame_ms: 900 },
  }),
  turn({ seq: 3, speaker: 'caller', heard_text: 'ארבעה חדרים', start_ms: 10500 }),
];

describe('splitTurn', () => {
  it('splits an interrupted agent turn into heard and never played', () => {
    expect(splitTurn(turns[2]!)).toEqual({ heard: 'מצוין.', unheard: 'כמה חדרים אתם מחפשים? ומה התקציב?' });
  });
  it('has nothing unheard when the whole reply played', () => {
    expect(splitTurn(turns[0]!)).toEqual({ heard: 'שלום, הגעתם לשי דירות.', unheard: '' });
  });
  it('marks the whole reply unheard when nothing was heard', () => {
    expect(splitTurn({ speaker: 'agent', heard_text: '', generated_text: 'רגע, אני בודקת.' })).toEqual({ heard: '', unheard: 'רגע, אני בודקת.' });
  });
  it('takes a caller turn as heard', () => {
    expect(splitTurn(turns[1]!)).toEqual({ heard: 'אני מחפשת דירה בתל אביב', unheard: '' });
  });
  it('tolerates different whitespace between heard and generated', () => {
    expect(splitTurn({ speaker: 'agent', heard_text: 'א  ב', generated_text: 'א ב\nג' })).toEqual({ heard: 'א ב', unheard: 'ג' });
  });
});

describe('latency', () => {
  it('is end of caller speech to first agent audio', () => {
    expect(responseMs(turns[2]!.latency)).toBe(1500);
    expect(responseMs({ first_frame_ms: -1 })).toBeNull();
    expect(responseMs(null)).toBeNull();
  });
  it('is classed against thresholds', () => {
    expect(latencyTone(900)).toBe('good');
    expect(latencyTone(1500)).toBe('slow');
    expect(latencyTone(2500)).toBe('bad');
  });
});

describe('<Transcript>', () => {
  it('renders caller turns at the start and agent turns at the end, in Hebrew RTL', () => {
    render(<Transcript turns={turns} />);
    const items = screen.getAllByTestId('turn');
    expect(items.map((i) => i.dataset.speaker)).toEqual(['agent', 'caller', 'agent', 'caller']);
    expect(items[1]!.className).toContain('self-start');
    expect(items[0]!.className).toContain('self-end');
    for (const p of screen.getByTestId('transcript').querySelectorAll('p')) {
      expect(p.getAttribute('dir')).toBe('rtl');
      expect(p.getAttribute('lang')).toBe('he');
    }
    expect(screen.getByRole('log')).toBeTruthy();
  });

  it('shows heard text plainly and the unplayed rest struck through, with "נקטע"', () => {
    render(<Transcript turns={turns} />);
    const cut = screen.getAllByTestId('turn')[2]!;
    expect(cut.dataset.interrupted).toBe('true');
    expect(within(cut).getByTestId('heard').textContent).toBe('מצוין.');
    const unheard = within(cut).getByTestId('unheard');
    expect(unheard.tagName).toBe('DEL');
    expect(unheard.textContent).toBe('כמה חדרים אתם מחפשים? ומה התקציב?');
    expect(within(cut).getByTestId('interrupted').textContent).toBe('נקטע');
    // The whole turn before it played: no mark, nothing struck.
    const first = screen.getAllByTestId('turn')[0]!;
    expect(within(first).queryByTestId('interrupted')).toBeNull();
    expect(within(first).queryByTestId('unheard')).toBeNull();
  });

  it('marks turns transcribed from the fallback recording, and only those', () => {
    const recorded = [...turns, turn({ seq: 1000, speaker: 'caller', heard_text: 'תחזרו אליי בבקשה', source: 'recording' })];
    render(<Transcript turns={recorded} />);
    const marks = screen.getAllByTestId('from-recording');
    expect(marks).toHaveLength(1);
    expect(marks[0]!.textContent).toBe('מההקלטה');
    expect(screen.getAllByTestId('turn')[4]!.contains(marks[0]!)).toBe(true);
  });

  it('marks the caller turn that cut the agent with "התפרץ", and only that one', () => {
    render(<Transcript turns={turns} />);
    const marks = screen.getAllByTestId('barged-in');
    expect(marks).toHaveLength(1);
    expect(screen.getAllByTestId('turn')[3]!.contains(marks[0]!)).toBe(true);
    expect(marks[0]!.textContent).toBe('התפרץ');
  });

  it('shows offsets and agent latency as LTR islands', () => {
    render(<Transcript turns={turns} />);
    const cut = screen.getAllByTestId('turn')[2]!;
    const offset = within(cut).getByTestId('offset');
    expect(offset.tagName).toBe('BDI');
    expect(offset.getAttribute('dir')).toBe('ltr');
    expect(offset.textContent).toBe('00:09');
    const lat = within(cut).getByTestId('latency');
    expect(lat.querySelector('bdi[dir="ltr"]')?.textContent).toBe('1.50 s');
    expect(lat.getAttribute('title')).toContain('420 ms');
    // Caller turns carry no response latency.
    expect(within(screen.getAllByTestId('turn')[1]!).queryByTestId('latency')).toBeNull();
  });

  it('says so when there are no turns', () => {
    render(<Transcript turns={[]} />);
    expect(screen.getByTestId('transcript-empty')).toBeTruthy();
  });

  it('places call events between turns by time; admin-only events only for admins', () => {
    const events: CallEvent[] = [
      { id: 1, event_id: 'e1', type: 'handoff', at: '2026-03-05T14:30:12Z', data: {} },
      { id: 2, event_id: 'e2', type: 'stt_dropped', at: '2026-03-05T14:30:05Z', data: {} },
      { id: 3, event_id: 'e3', type: 'media', at: '2026-03-05T14:30:06Z', data: {} },
    ];
    const rows = transcriptRows(turns, events, '2026-03-05T14:30:00Z', false);
    expect(rows.map((r) => (r.kind === 'turn' ? `t${r.turn.seq}` : r.event.type))).toEqual(['t0', 't1', 't2', 't3', 'handoff']);
    const admin = transcriptRows(turns, events, '2026-03-05T14:30:00Z', true);
    expect(admin.map((r) => (r.kind === 'turn' ? `t${r.turn.seq}` : r.event.type))).toEqual(['t0', 't1', 'stt_dropped', 't2', 't3', 'handoff']);
  });
});
