// Business settings (crm-ui.md §1.14): the greeting, the agent's
// instructions, the voice, opening hours per weekday and the number calls
// are transferred to. Owners and admins change them (PATCH /api/settings,
// only the fields that changed); agents see them read-only. Leaving with
// unsaved changes asks first.
import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../api/client';
import { WEEKDAYS, type AgentsSee, type Business, type BusinessHours, type SettingsInput, type Weekday } from '../api/types';
import { Phone } from '../components/Ltr';
import { ErrorState, Loading, errorText } from '../components/States';
import { he } from '../he';
import { useAuth } from '../lib/auth';
import { formatNumber, formatPhone, toE164 } from '../lib/format';
import { useAction } from '../lib/useAction';
import { useAsync } from '../lib/useAsync';

/** Google Cloud TTS Hebrew voices (he-IL). */
export const VOICES = ['he-IL-Wavenet-A', 'he-IL-Wavenet-B', 'he-IL-Wavenet-C', 'he-IL-Wavenet-D', 'he-IL-Standard-A', 'he-IL-Standard-B', 'he-IL-Standard-C', 'he-IL-Standard-D'];
export const GREETING_MAX = 500;
export const INSTRUCTIONS_MAX = 20000;

interface Draft {
  greeting: string;
  agent_instructions: string;
  voice: string;
  business_hours: BusinessHours;
  transfer_number: string;
  agents_see: AgentsSee;
}

function draftOf(b: Business): Draft {
  return {
    greeting: b.greeting,
    agent_instructions: b.agent_instructions,
    voice: b.voice,
    business_hours: b.business_hours ?? {},
    transfer_number: b.transfer_number ? formatPhone(b.transfer_number) : '',
    agents_see: b.agents_see ?? 'assigned',
  };
}

/** The PATCH body: only what differs from the saved business. */
export function settingsPatch(b: Business, d: Draft): SettingsInput | 'invalid-phone' {
  const patch: SettingsInput = {};
  if (d.greeting !== b.greeting) patch.greeting = d.greeting;
  if (d.agent_instructions !== b.agent_instructions) patch.agent_instructions = d.agent_instructions;
  if (d.voice !== b.voice) patch.voice = d.voice;
  if (d.agents_see !== (b.agents_see ?? 'assigned')) patch.agents_see = d.agents_see;
  if (JSON.stringify(d.business_hours) !== JSON.stringify(b.business_hours ?? {})) patch.business_hours = d.business_hours;
  const t = d.transfer_number.trim();
  const e164 = t === '' ? null : toE164(t);
  if (t !== '' && e164 === null) return 'invalid-phone';
  if (e164 !== (b.transfer_number ?? null)) patch.transfer_number = e164;
  return patch;
}

function HoursEditor({ hours, readOnly, onChange }: { hours: BusinessHours; readOnly: boolean; onChange: (h: BusinessHours) => void }) {
  const setDay = (day: Weekday, ranges: Array<[string, string]>) => onChange({ ...hours, [day]: ranges });
  return (
    <table className="text-sm" data-testid="hours">
      <tbody>
        {WEEKDAYS.map((day) => {
          const ranges = hours[day] ?? [];
          return (
            <tr key={day} className="border-b border-border last:border-b-0">
              <th scope="row" className="py-2 pe-4 text-start align-top font-medium">
                {he.weekdays[day]}
              </th>
              <td className="flex flex-col gap-2 py-2">
                {ranges.length === 0 && <span className="text-subtle">{he.settings.closed}</span>}
                {ranges.map(([open, close], i) => (
                  <div key={i} className="flex flex-wrap items-center gap-2">
                    <input
                      type="time"
                      dir="ltr"
                      aria-label={`${he.weekdays[day]} ${he.settings.open}`}
                      className="input w-auto"
                      value={open}
                      disabled={readOnly}
                      onChange={(e) => setDay(day, ranges.map((r, j) => (j === i ? [e.target.value, r[1]] : r)))}
                    />
                    <span aria-hidden="true">–</span>
                    <input
                      type="time"
                      dir="ltr"
                      aria-label={`${he.weekdays[day]} ${he.settings.close}`}
                      className="input w-auto"
                      value={close}
                      disabled={readOnly}
                      onChange={(e) => setDay(day, ranges.map((r, j) => (j === i ? [r[0], e.target.value] : r)))}
                    />
                    {!readOnly && (
                      <button type="button" className="btn btn-secondary" onClick={() => setDay(day, ranges.filter((_, j) => j !== i))}>
                        {he.settings.removeRange}
                      </button>
                    )}
                  </div>
                ))}
                {!readOnly && (
                  <button type="button" className="btn btn-secondary self-start" onClick={() => setDay(day, [...ranges, ['09:00', '17:00']])}>
                    {he.settings.addRange}
                  </button>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function Settings() {
  const { can } = useAuth();
  const readOnly = !can('settings.write');
  const q = useAsync((signal) => api.settings({ signal }), []);
  const [draft, setDraft] = useState<Draft | null>(null);
  const { busy, error, run } = useAction();
  const [phoneError, setPhoneError] = useState(false);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    if (q.data) setDraft(draftOf(q.data.business));
  }, [q.data]);

  const patch = q.data && draft ? settingsPatch(q.data.business, draft) : {};
  const dirty = patch === 'invalid-phone' || Object.keys(patch).length > 0;

  useEffect(() => {
    if (!dirty) return undefined;
    const warn = (e: BeforeUnloadEvent) => {
      e.preventDefault();
      e.returnValue = '';
    };
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [dirty]);

  if (q.error) return <ErrorState error={q.error} onRetry={q.reload} />;
  if (!q.data || !draft) return <Loading rows={6} />;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (patch === 'invalid-phone') {
      setPhoneError(true);
      return;
    }
    setPhoneError(false);
    setSaved(false);
    await run(async () => {
      const r = await api.updateSettings(patch);
      q.setData(() => r);
      setSaved(true);
    });
  };
  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => {
    setSaved(false);
    setDraft((d) => (d ? { ...d, [k]: v } : d));
  };
  const saved0 = q.data.business;
  const voices = VOICES.includes(draft.voice) ? VOICES : [draft.voice, ...VOICES];

  return (
    <form onSubmit={submit} className="flex max-w-3xl flex-col gap-5 pb-20" data-testid="settings-form">
      <h1 tabIndex={-1}>{he.settings.title}</h1>
      {readOnly && <p className="rounded border border-border bg-muted p-3 text-sm">{he.settings.readOnly}</p>}

      <section className="card flex flex-col gap-2 p-4">
        <label htmlFor="st-greeting" className="label">
          {he.settings.greeting}
        </label>
        <p className="text-xs text-subtle">{he.settings.greetingHelp}</p>
        <textarea
          id="st-greeting"
          dir="rtl"
          lang="he"
          rows={3}
          maxLength={GREETING_MAX}
          className="input"
          value={draft.greeting}
          readOnly={readOnly}
          onChange={(e) => set('greeting', e.target.value)}
          data-testid="st-greeting"
        />
        <span className="text-xs text-subtle">{he.settings.characters(`${formatNumber(draft.greeting.length)}/${formatNumber(GREETING_MAX)}`)}</span>
      </section>

      <section className="card flex flex-col gap-2 p-4">
        <label htmlFor="st-instructions" className="label">
          {he.settings.instructions}
        </label>
        <p className="text-xs text-subtle">{he.settings.instructionsHelp}</p>
        <textarea
          id="st-instructions"
          dir="rtl"
          lang="he"
          rows={12}
          maxLength={INSTRUCTIONS_MAX}
          className="input plaintext"
          value={draft.agent_instructions}
          readOnly={readOnly}
          onChange={(e) => set('agent_instructions', e.target.value)}
          data-testid="st-instructions"
        />
        <span className="text-xs text-subtle">{he.settings.characters(formatNumber(draft.agent_instructions.length))}</span>
      </section>

      <section className="card grid gap-4 p-4 sm:grid-cols-2">
        <div>
          <label htmlFor="st-voice" className="label">
            {he.settings.voice}
          </label>
          <select id="st-voice" dir="ltr" className="input text-end" value={draft.voice} disabled={readOnly} onChange={(e) => set('voice', e.target.value)} data-testid="st-voice">
            {voices.map((v) => (
              <option key={v} value={v}>
                {v}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="st-transfer" className="label">
            {he.settings.transfer}
          </label>
          <input
            id="st-transfer"
            type="tel"
            dir="ltr"
            inputMode="tel"
            autoComplete="tel"
            className="input text-end"
            value={draft.transfer_number}
            readOnly={readOnly}
            aria-invalid={phoneError}
            aria-describedby="st-transfer-help"
            onChange={(e) => set('transfer_number', e.target.value)}
            data-testid="st-transfer"
          />
          <p id="st-transfer-help" className={`mt-1 text-xs ${phoneError ? 'text-danger' : 'text-subtle'}`}>
            {phoneError ? he.settings.invalidPhone : he.settings.transferHelp}
          </p>
        </div>
        <div>
          <label htmlFor="st-agents" className="label">
            {he.settings.agentsSee}
          </label>
          <select
            id="st-agents"
            className="input"
            value={draft.agents_see}
            disabled={readOnly}
            onChange={(e) => set('agents_see', e.target.value === 'all' ? 'all' : 'assigned')}
            data-testid="st-agents-see"
          >
            <option value="assigned">{he.settings.agentsSeeAssigned}</option>
            <option value="all">{he.settings.agentsSeeAll}</option>
          </select>
        </div>
        <div className="sm:col-span-2">
          <div className="label">{he.settings.numbers}</div>
          <ul className="flex flex-wrap gap-3" data-testid="st-numbers">
            {q.data.numbers.map((n) => (
              <li key={n}>
                <Phone value={n} />
              </li>
            ))}
          </ul>
        </div>
      </section>

      <section className="card flex flex-col gap-2 p-4">
        <h2>{he.settings.hours}</h2>
        <HoursEditor hours={draft.business_hours} readOnly={readOnly} onChange={(h) => set('business_hours', h)} />
      </section>

      {!readOnly && (
        <div className="sticky bottom-0 flex flex-wrap items-center gap-3 border-t border-border bg-surface p-3" data-testid="save-bar">
          <button type="submit" className="btn btn-primary" disabled={busy || !dirty} data-testid="st-save">
            {busy ? he.common.saving : he.common.save}
          </button>
          <button type="button" className="btn btn-secondary" disabled={busy || !dirty} onClick={() => setDraft(draftOf(saved0))}>
            {he.common.cancel}
          </button>
          {dirty && <span className="text-sm text-warning">{he.settings.unsaved}</span>}
          {saved && !dirty && (
            <span role="status" className="text-sm text-success" data-testid="st-saved">
              {he.common.saved}
            </span>
          )}
          {error !== null && (
            <span role="alert" className="text-sm text-danger">
              {errorText(error)}
            </span>
          )}
        </div>
      )}
    </form>
  );
}
