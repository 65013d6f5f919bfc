// The form to create a lead by hand, or edit one's details and
// requirements. Phone input is LTR (digits in typed order) with a tel
// keyboard, aligned to the end so its edge lines up with the Hebrew
// fields; lists (cities, neighbourhoods) are comma-separated text.
import { useState, type FormEvent, type ReactNode } from 'react';
import { Link } from 'wouter';
import { ApiError } from '../api/client';
import { STAGES, type Customer, type CustomerInput, type DealType, type Pipeline } from '../api/types';
import { he } from '../he';
import { formatPhone, toE164 } from '../lib/format';
import { useAction } from '../lib/useAction';
import { errorText } from './States';

const DEAL_TYPES: DealType[] = ['buy', 'rent', 'sell', 'let'];
const PIPELINES: Pipeline[] = ['buyer_renter', 'seller_landlord'];

const list = (s: string) =>
  s
    .split(/[,،]/)
    .map((x) => x.trim())
    .filter((x) => x !== '');
const num = (s: string) => (s.trim() === '' ? null : Number(s));
const tri = (s: string): boolean | null => (s === 'yes' ? true : s === 'no' ? false : null);
const triValue = (b: boolean | null | undefined) => (b === true ? 'yes' : b === false ? 'no' : '');

function Field({ label, id, children, hint }: { label: string; id: string; children: ReactNode; hint?: string }) {
  return (
    <div>
      <label htmlFor={id} className="label">
        {label}
      </label>
      {children}
      {hint && <p className="mt-1 text-xs text-subtle">{hint}</p>}
    </div>
  );
}

export interface CustomerFormProps {
  initial?: Customer;
  onSubmit: (input: CustomerInput) => Promise<void>;
  onCancel: () => void;
}

export function CustomerForm({ initial, onSubmit, onCancel }: CustomerFormProps) {
  const creating = !initial;
  const [v, setV] = useState({
    name: initial?.name ?? '',
    phone: initial ? formatPhone(initial.phone) : '',
    pipeline: initial?.pipeline ?? 'buyer_renter',
    stage: initial?.stage ?? 'new',
    deal_type: initial?.deal_type ?? '',
    cities: initial?.cities.join(', ') ?? '',
    neighbourhoods: initial?.neighbourhoods.join(', ') ?? '',
    rooms_min: initial?.rooms_min?.toString() ?? '',
    rooms_max: initial?.rooms_max?.toString() ?? '',
    budget_min: initial?.budget_min?.toString() ?? '',
    budget_max: initial?.budget_max?.toString() ?? '',
    property_type: initial?.property_type ?? '',
    timeline: initial?.timeline ?? '',
    need_parking: triValue(initial?.need_parking),
    need_elevator: triValue(initial?.need_elevator),
    need_mamad: triValue(initial?.need_mamad),
    need_balcony: triValue(initial?.need_balcony),
  });
  const { busy, error, run } = useAction();
  const [phoneError, setPhoneError] = useState(false);
  const set = (k: keyof typeof v) => (e: { target: { value: string } }) => setV((o) => ({ ...o, [k]: e.target.value }));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const input: CustomerInput = {
      name: v.name.trim() || null,
      pipeline: v.pipeline as Pipeline,
      stage: v.stage,
      deal_type: (v.deal_type || null) as DealType | null,
      cities: list(v.cities),
      neighbourhoods: list(v.neighbourhoods),
      rooms_min: num(v.rooms_min),
      rooms_max: num(v.rooms_max),
      budget_min: num(v.budget_min),
      budget_max: num(v.budget_max),
      property_type: v.property_type.trim() || null,
      timeline: v.timeline.trim() || null,
      need_parking: tri(v.need_parking),
      need_elevator: tri(v.need_elevator),
      need_mamad: tri(v.need_mamad),
      need_balcony: tri(v.need_balcony),
    };
    if (creating) {
      const phone = toE164(v.phone);
      if (!phone) {
        setPhoneError(true);
        return;
      }
      input.phone = phone;
      input.source = 'web';
    }
    setPhoneError(false);
    await run(async () => {
      await onSubmit(input);
    });
  };

  const f = he.customer.field;
  const conflictId = error instanceof ApiError && error.code === 'conflict' ? error.body?.id : undefined;
  const yesNo = (k: 'need_parking' | 'need_elevator' | 'need_mamad' | 'need_balcony', label: string) => (
    <Field label={label} id={`cf-${k}`}>
      <select id={`cf-${k}`} className="input" value={v[k]} onChange={set(k)}>
        <option value="">{he.common.unknown}</option>
        <option value="yes">{he.common.yes}</option>
        <option value="no">{he.common.no}</option>
      </select>
    </Field>
  );

  return (
    <form onSubmit={submit} className="flex flex-col gap-4" data-testid="customer-form" noValidate>
      <div className="grid gap-3 sm:grid-cols-2">
        <Field label={f.name} id="cf-name">
          <input id="cf-name" dir="auto" className="input" value={v.name} onChange={set('name')} autoComplete="off" data-testid="cf-name" />
        </Field>
        <Field label={f.phone} id="cf-phone" hint={creating ? he.customer.phoneHint : undefined}>
          <input
            id="cf-phone"
            type="tel"
            dir="ltr"
            inputMode="tel"
            autoComplete="tel"
            className="input text-end"
            value={v.phone}
            onChange={set('phone')}
            readOnly={!creating}
            required
            aria-invalid={phoneError}
            aria-describedby={phoneError ? 'cf-phone-err' : undefined}
            data-testid="cf-phone"
          />
          {phoneError && (
            <p id="cf-phone-err" className="mt-1 text-xs text-danger">
              {he.settings.invalidPhone}
            </p>
          )}
        </Field>
        <Field label={f.pipeline} id="cf-pipeline">
          <select id="cf-pipeline" className="input" value={v.pipeline} onChange={set('pipeline')}>
            {PIPELINES.map((p) => (
              <option key={p} value={p}>
                {he.pipeline[p]}
              </option>
            ))}
          </select>
        </Field>
        <Field label={f.stage} id="cf-stage">
          <select id="cf-stage" className="input" value={v.stage} onChange={set('stage')}>
            {STAGES.map((s) => (
              <option key={s} value={s}>
                {he.stage[s]}
              </option>
            ))}
          </select>
        </Field>
        <Field label={f.dealType} id="cf-deal">
          <select id="cf-deal" className="input" value={v.deal_type} onChange={set('deal_type')}>
            <option value="">{he.common.unknown}</option>
            {DEAL_TYPES.map((d) => (
              <option key={d} value={d}>
                {he.dealType[d]}
              </option>
            ))}
          </select>
        </Field>
        <Field label={f.propertyType} id="cf-ptype">
          <input id="cf-ptype" dir="auto" className="input" value={v.property_type} onChange={set('property_type')} />
        </Field>
        <Field label={f.cities} id="cf-cities" hint={he.customer.listHint}>
          <input id="cf-cities" dir="auto" className="input" value={v.cities} onChange={set('cities')} />
        </Field>
        <Field label={f.neighbourhoods} id="cf-hoods" hint={he.customer.listHint}>
          <input id="cf-hoods" dir="auto" className="input" value={v.neighbourhoods} onChange={set('neighbourhoods')} />
        </Field>
        <Field label={f.roomsMin} id="cf-rmin">
          <input id="cf-rmin" type="number" step="0.5" min="0" dir="ltr" className="input text-end" value={v.rooms_min} onChange={set('rooms_min')} />
        </Field>
        <Field label={f.roomsMax} id="cf-rmax">
          <input id="cf-rmax" type="number" step="0.5" min="0" dir="ltr" className="input text-end" value={v.rooms_max} onChange={set('rooms_max')} />
        </Field>
        <Field label={`${f.budgetMin} (₪)`} id="cf-bmin">
          <input id="cf-bmin" type="number" step="1000" min="0" dir="ltr" className="input text-end" value={v.budget_min} onChange={set('budget_min')} />
        </Field>
        <Field label={`${f.budgetMax} (₪)`} id="cf-bmax">
          <input id="cf-bmax" type="number" step="1000" min="0" dir="ltr" className="input text-end" value={v.budget_max} onChange={set('budget_max')} />
        </Field>
        <Field label={f.timeline} id="cf-timeline">
          <input id="cf-timeline" dir="auto" className="input" value={v.timeline} onChange={set('timeline')} />
        </Field>
        {yesNo('need_parking', f.parking)}
        {yesNo('need_elevator', f.elevator)}
        {yesNo('need_mamad', f.mamad)}
        {yesNo('need_balcony', f.balcony)}
      </div>
      {error !== null && (
        <p role="alert" className="text-sm text-danger" data-testid="customer-form-error">
          {errorText(error)}{' '}
          {conflictId !== undefined && (
            <Link href={`/customers/${conflictId}`} className="text-primary underline">
              {he.customer.openExisting}
            </Link>
          )}
        </p>
      )}
      <div className="flex gap-2">
        <button type="submit" className="btn btn-primary" disabled={busy} data-testid="cf-submit">
          {busy ? he.common.saving : creating ? he.common.create : he.common.save}
        </button>
        <button type="button" className="btn btn-secondary" onClick={onCancel}>
          {he.common.cancel}
        </button>
      </div>
    </form>
  );
}
