// The columns of the customers CSV export (Hebrew headers, values as the
// screen shows them: local phone form, Hebrew stage and source names,
// plain numbers for budgets so Excel can sum them).
import type { Customer } from '../api/types';
import { he } from '../he';
import type { CsvColumn } from './csv';
import { formatDateTime, formatPhone } from './format';

const yesNo = (b: boolean | null) => (b === null ? '' : b ? he.common.yes : he.common.no);
const f = he.customer.field;

export const customerCsvColumns: CsvColumn<Customer>[] = [
  { header: f.name, value: (c) => c.name },
  { header: f.phone, value: (c) => formatPhone(c.phone) },
  { header: f.stage, value: (c) => (he.stage as Record<string, string>)[c.stage] ?? c.stage },
  { header: f.pipeline, value: (c) => he.pipeline[c.pipeline] ?? c.pipeline },
  { header: f.dealType, value: (c) => (c.deal_type ? he.dealType[c.deal_type] : '') },
  { header: f.cities, value: (c) => c.cities },
  { header: f.neighbourhoods, value: (c) => c.neighbourhoods },
  { header: f.roomsMin, value: (c) => c.rooms_min },
  { header: f.roomsMax, value: (c) => c.rooms_max },
  { header: f.budgetMin, value: (c) => c.budget_min },
  { header: f.budgetMax, value: (c) => c.budget_max },
  { header: f.propertyType, value: (c) => c.property_type },
  { header: f.timeline, value: (c) => c.timeline },
  { header: f.parking, value: (c) => yesNo(c.need_parking) },
  { header: f.elevator, value: (c) => yesNo(c.need_elevator) },
  { header: f.mamad, value: (c) => yesNo(c.need_mamad) },
  { header: f.balcony, value: (c) => yesNo(c.need_balcony) },
  { header: f.score, value: (c) => c.lead_score },
  { header: f.sentiment, value: (c) => (c.sentiment ? ((he.sentiment as Record<string, string>)[c.sentiment] ?? c.sentiment) : '') },
  { header: f.source, value: (c) => he.source[c.source] ?? c.source },
  { header: he.customers.col.created, value: (c) => formatDateTime(c.created_at) },
  { header: he.customers.col.updated, value: (c) => formatDateTime(c.updated_at) },
];
