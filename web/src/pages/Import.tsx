// The CSV import wizard (issue #13): choose a file (UTF-8, header row),
// map its columns onto lead fields (phone required), preview what the
// gateway would do (POST /api/import with dry_run: create / update / skip
// / invalid per row, dedupe by phone), choose what to do with phones that
// exist (skip or update), import, and read the report.
import { useState } from 'react';
import { Link } from 'wouter';
import { api } from '../api/client';
import type { ImportField, ImportReport } from '../api/types';
import { IMPORT_FIELDS } from '../api/types';
import { Auto, Ltr } from '../components/Ltr';
import { errorText } from '../components/States';
import { he } from '../he';
import { guessMapping, parseCsv } from '../lib/csvParse';

const I = he.importer;

/** A file's text as UTF-8 (FileReader: every browser, and jsdom). */
function readText(f: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(typeof r.result === 'string' ? r.result : '');
    r.onerror = () => reject(r.error ?? new Error('read failed'));
    r.readAsText(f, 'utf-8');
  });
}
type Step = 0 | 1 | 2 | 3;

function Counts({ r }: { r: ImportReport }) {
  return (
    <ul className="flex flex-wrap gap-3 text-sm">
      {(['create', 'update', 'skip', 'invalid'] as const).map((k) => (
        <li key={k} className="rounded bg-muted px-2 py-1" data-testid={`count-${k}`}>
          {(r.dry_run ? I.actions : I.done)[k]}: <Ltr className="font-medium tabular-nums">{String(r.counts[k] ?? 0)}</Ltr>
        </li>
      ))}
    </ul>
  );
}

function RowsTable({ r }: { r: ImportReport }) {
  return (
    <table className="card w-full text-sm">
      <thead className="bg-muted">
        <tr>
          <th className="p-2 text-start">{I.line}</th>
          <th className="p-2 text-start">{I.fields.phone}</th>
          <th className="p-2 text-start">{I.fields.name}</th>
          <th className="p-2 text-start">{I.action}</th>
          <th className="p-2 text-start">{I.error}</th>
        </tr>
      </thead>
      <tbody>
        {r.rows.slice(0, 200).map((x) => (
          <tr key={x.line} className="border-t border-border" data-testid="import-row" data-action={x.action}>
            <td className="p-2 text-end">
              <Ltr>{String(x.line)}</Ltr>
            </td>
            <td className="p-2">{x.phone && <Ltr>{x.phone}</Ltr>}</td>
            <td className="p-2">{x.name && <Auto>{x.name}</Auto>}</td>
            <td className="p-2">{I.actions[x.action]}</td>
            <td className="p-2 text-subtle">{x.error && <Auto>{x.error}</Auto>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Import() {
  const [step, setStep] = useState<Step>(0);
  const [csv, setCsv] = useState('');
  const [headers, setHeaders] = useState<string[]>([]);
  const [sample, setSample] = useState<string[][]>([]);
  const [mapping, setMapping] = useState<Partial<Record<ImportField, string>>>({});
  const [onExisting, setOnExisting] = useState<'skip' | 'update'>('skip');
  const [preview, setPreview] = useState<ImportReport | null>(null);
  const [report, setReport] = useState<ImportReport | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const readFile = async (f: File | undefined) => {
    setError(null);
    if (!f) return;
    let text: string;
    try {
      text = await readText(f);
    } catch (e) {
      setError(errorText(e));
      return;
    }
    const rows = parseCsv(text, 6);
    const head = rows[0] ?? [];
    if (rows.length < 2) {
      setError(I.noRows);
      return;
    }
    setCsv(text);
    setHeaders(head);
    setSample(rows.slice(1));
    setMapping(guessMapping(head, I.guess));
  };

  const run = async (dry: boolean, existing = onExisting) => {
    setBusy(true);
    setError(null);
    try {
      const r = await api.importCustomers({ csv, mapping, on_existing: existing, dry_run: dry });
      if (dry) {
        setPreview(r);
        setStep(2);
      } else {
        setReport(r);
        setStep(3);
      }
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const reset = () => {
    setStep(0);
    setCsv('');
    setHeaders([]);
    setPreview(null);
    setReport(null);
    setMapping({});
  };

  return (
    <section className="flex flex-col gap-4" data-testid="import-wizard" data-step={step}>
      <h1 tabIndex={-1}>{I.title}</h1>
      <ol className="flex flex-wrap gap-2 text-sm" aria-label={I.title}>
        {I.steps.map((s, i) => (
          <li key={s} aria-current={i === step ? 'step' : undefined} className={`rounded-full px-3 py-1 ${i === step ? 'bg-primary text-primary-fg' : 'bg-muted'}`}>
            <Ltr>{String(i + 1)}</Ltr> {s}
          </li>
        ))}
      </ol>
      {error && (
        <p role="alert" className="text-danger" data-testid="import-error">
          {error}
        </p>
      )}

      {step === 0 && (
        <div className="card flex flex-col gap-3 p-4">
          <label className="flex flex-col gap-1">
            <span className="label">{I.file}</span>
            <input type="file" accept=".csv,text/csv" onChange={(e) => void readFile(e.target.files?.[0])} data-testid="import-file" />
          </label>
          {headers.length > 0 && (
            <p className="text-sm text-subtle">
              {I.headers(headers.length)} · {I.rows(sample.length)}
            </p>
          )}
          <button type="button" className="btn btn-primary self-start" disabled={headers.length === 0} onClick={() => setStep(1)} data-testid="import-next">
            {I.next}
          </button>
        </div>
      )}

      {step === 1 && (
        <div className="card flex flex-col gap-3 p-4">
          <table className="text-sm" data-testid="import-mapping">
            <thead>
              <tr>
                <th className="p-1 text-start">{I.field}</th>
                <th className="p-1 text-start">{I.column}</th>
              </tr>
            </thead>
            <tbody>
              {IMPORT_FIELDS.map((f) => (
                <tr key={f}>
                  <td className="p-1">{I.fields[f]}</td>
                  <td className="p-1">
                    <select
                      className="input"
                      value={mapping[f] ?? ''}
                      onChange={(e) => setMapping((m) => ({ ...m, [f]: e.target.value || undefined }))}
                      data-testid={`map-${f}`}
                    >
                      <option value="">{I.skipColumn}</option>
                      {headers.map((h) => (
                        <option key={h} value={h}>
                          {h}
                        </option>
                      ))}
                    </select>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {!mapping.phone && <p className="text-sm text-danger">{I.phoneRequired}</p>}
          <div className="flex gap-2">
            <button type="button" className="btn btn-secondary" onClick={() => setStep(0)}>
              {I.back}
            </button>
            <button type="button" className="btn btn-primary" disabled={!mapping.phone || busy} onClick={() => void run(true)} data-testid="import-next">
              {I.preview}
            </button>
          </div>
        </div>
      )}

      {step === 2 && preview && (
        <div className="flex flex-col gap-3" data-testid="import-preview">
          <fieldset className="card flex flex-wrap gap-4 p-4">
            <legend className="label">{I.onExisting}</legend>
            <label className="flex items-center gap-2">
              <input
                type="radio"
                name="on-existing"
                checked={onExisting === 'skip'}
                onChange={() => {
                  setOnExisting('skip');
                  void run(true, 'skip');
                }}
                data-testid="import-dup-skip"
              />
              {I.existingSkip}
            </label>
            <label className="flex items-center gap-2">
              <input
                type="radio"
                name="on-existing"
                checked={onExisting === 'update'}
                onChange={() => {
                  setOnExisting('update');
                  void run(true, 'update');
                }}
                data-testid="import-dup-update"
              />
              {I.existingUpdate}
            </label>
          </fieldset>
          <Counts r={preview} />
          <RowsTable r={preview} />
          <div className="flex gap-2">
            <button type="button" className="btn btn-secondary" onClick={() => setStep(1)}>
              {I.back}
            </button>
            <button type="button" className="btn btn-primary" disabled={busy} onClick={() => void run(false)} data-testid="import-run">
              {busy ? I.running : I.run}
            </button>
          </div>
        </div>
      )}

      {step === 3 && report && (
        <div
          className="flex flex-col gap-3"
          data-testid="import-report"
          data-created={report.counts.create ?? 0}
          data-updated={report.counts.update ?? 0}
          data-skipped={report.counts.skip ?? 0}
          data-invalid={report.counts.invalid ?? 0}
        >
          <h2>{I.report}</h2>
          <Counts r={report} />
          <RowsTable r={report} />
          <div className="flex gap-2">
            <button type="button" className="btn btn-secondary" onClick={reset}>
              {I.again}
            </button>
            <Link href="/customers" className="btn btn-primary">
              {he.nav.customers}
            </Link>
          </div>
        </div>
      )}
    </section>
  );
}
