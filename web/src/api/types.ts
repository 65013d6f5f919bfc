// The JSON shapes of docs/api.md, typed once: every screen, the api client
// and the SSE hook use these, so a change to the contract is a change here
// that the compiler then follows through the UI. Field names are the CRM's
// (docs/crm-store.md).

export type Role = 'admin' | 'owner' | 'agent';

export type Permission =
  | 'calls.read'
  | 'customers.read'
  | 'customers.write'
  | 'customers.assign'
  | 'customers.export'
  | 'settings.read'
  | 'settings.write'
  | 'customers.import'
  | 'users.manage'
  | 'audit.read'
  | 'businesses.all';

export interface User {
  id: number;
  business_id: number | null;
  email: string;
  name: string;
  role: Role;
}

export interface Me {
  user: User;
  business: { id: number; name: string } | null;
  csrf_token: string;
  permissions: Permission[];
}

export interface LoginResponse {
  user: User;
  csrf_token: string;
}

export interface Page<T> {
  total: number;
  page: number;
  per_page: number;
  rows: T[];
}

export type SortOrder = 'asc' | 'desc';

/** Paging, sort, search and filters of a list route (docs/api.md). */
export interface ListParams {
  page?: number;
  per_page?: number;
  sort?: string;
  order?: SortOrder;
  search?: string;
  filters?: Record<string, string | undefined>;
}

export type CallStatus = 'ringing' | 'in-progress' | 'completed' | 'transferred' | 'busy' | 'no-answer' | 'canceled' | 'failed';
export type Sentiment = 'positive' | 'neutral' | 'negative' | 'mixed';
export type Direction = 'inbound' | 'outbound';

export interface Requirements {
  deal_type?: DealType | null;
  cities?: string[];
  neighbourhoods?: string[];
  rooms_min?: number | null;
  rooms_max?: number | null;
  budget_min?: number | null;
  budget_max?: number | null;
  property_type?: string | null;
  timeline?: string | null;
  need_parking?: boolean | null;
  need_elevator?: boolean | null;
  need_mamad?: boolean | null;
  need_balcony?: boolean | null;
}

export interface Call {
  id: number;
  call_sid: string;
  customer_id: number | null;
  customer_name: string | null;
  customer_phone?: string | null;
  direction: Direction;
  from_number: string | null;
  to_number: string | null;
  status: CallStatus | string;
  started_at: string;
  answered_at: string | null;
  ended_at: string | null;
  duration_s: number | null;
  recording_url: string | null;
  fallback_used: boolean;
  summary: string | null;
  sentiment: Sentiment | string | null;
  lead_score: number | null;
  extracted?: { reasons?: string[]; requirements?: Requirements } | null;
  latency?: { median_ms?: number; p90_ms?: number; interruptions_by_caller?: number; turns?: number } | null;
}

export type LiveState = 'ringing' | 'greeting' | 'listening' | 'thinking' | 'speaking' | 'transferring';

export interface LiveCall {
  call_sid: string;
  id?: number | null;
  from_number: string | null;
  to_number: string | null;
  customer_id?: number | null;
  customer_name?: string | null;
  status: string;
  started_at: string;
  state: LiveState | null;
  last_heard?: string | null;
}

export interface TurnLatency {
  end_of_turn_ms?: number;
  stt_ms?: number;
  speech_ms?: number;
  llm_first_token_ms?: number;
  llm_first_sentence_ms?: number;
  tts_ms?: number;
  first_frame_ms?: number;
}

export type Speaker = 'caller' | 'agent' | 'system';

export interface Turn {
  seq: number;
  speaker: Speaker;
  heard_text: string | null;
  generated_text: string | null;
  start_ms: number | null;
  end_ms: number | null;
  interrupted: boolean;
  stt_confidence: number | null;
  latency: TurnLatency | null;
  /** "recording": transcribed afterwards from the fallback recording. */
  source?: 'live' | 'recording';
}

export interface CallEvent {
  id: number;
  event_id: string;
  type: string;
  at: string;
  data: Record<string, unknown>;
}

export interface CallDetail {
  call: Call;
  turns: Turn[];
  events: CallEvent[];
}

export type Source = 'call' | 'whatsapp' | 'sms' | 'web' | 'referral';
export type Pipeline = 'buyer_renter' | 'seller_landlord';
export type DealType = 'buy' | 'rent' | 'sell' | 'let';
export type Stage = 'new' | 'contacted' | 'qualified' | 'viewing' | 'negotiation' | 'won' | 'lost';
export const STAGES: readonly Stage[] = ['new', 'contacted', 'qualified', 'viewing', 'negotiation', 'won', 'lost'];

export interface Customer {
  id: number;
  phone: string;
  name: string | null;
  source: Source;
  pipeline: Pipeline;
  stage: Stage | string;
  lead_score: number | null;
  sentiment: Sentiment | string | null;
  deal_type: DealType | null;
  cities: string[];
  neighbourhoods: string[];
  rooms_min: number | null;
  rooms_max: number | null;
  budget_min: number | null;
  budget_max: number | null;
  property_type: string | null;
  timeline: string | null;
  need_parking: boolean | null;
  need_elevator: boolean | null;
  need_mamad: boolean | null;
  need_balcony: boolean | null;
  /** The user the customer is shared with (docs/api.md, agents_see). */
  assigned_user_id?: number | null;
  created_at: string;
  updated_at: string;
  /** List rows: the latest of updated_at, last call, last note. */
  last_activity_at?: string | null;
}

/** What POST/PATCH /api/customers accept: every writable field. */
export type CustomerInput = Partial<Omit<Customer, 'id' | 'created_at' | 'updated_at'>>;

export interface CallSummary {
  id: number;
  call_sid: string;
  direction: Direction;
  status: string;
  started_at: string;
  duration_s: number | null;
  summary: string | null;
  sentiment: string | null;
  lead_score: number | null;
}

export interface Appointment {
  id: number;
  customer_id: number | null;
  call_sid: string | null;
  starts_at: string | null;
  requested_text: string | null;
  address: string | null;
  notes: string | null;
  status: 'requested' | 'confirmed' | 'done' | 'cancelled';
  created_at: string;
  updated_at: string;
}

export interface Note {
  id: number;
  customer_id: number | null;
  call_sid: string | null;
  author_id: number | null;
  body: string;
  created_at: string;
}

export interface Task {
  id: number;
  customer_id: number | null;
  call_sid: string | null;
  title: string;
  due_at: string | null;
  done: boolean;
  suggested: boolean;
  assignee_id: number | null;
  created_at: string;
  updated_at: string;
}

export interface Message {
  id: number;
  message_sid: string;
  channel: 'sms' | 'whatsapp';
  direction: Direction;
  from_number: string | null;
  to_number: string | null;
  body: string;
  status: string;
  created_at: string;
}

export interface CustomerDetail {
  customer: Customer;
  calls: CallSummary[];
  appointments: Appointment[];
  notes: Note[];
  tasks: Task[];
  messages: Message[];
}

export type AgentsSee = 'assigned' | 'all';

export type Weekday = 'sun' | 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat';
export const WEEKDAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
export type BusinessHours = Partial<Record<Weekday, Array<[string, string]>>>;

export interface Business {
  id: number;
  name: string;
  greeting: string;
  voice: string;
  agent_instructions: string;
  business_hours: BusinessHours;
  transfer_number: string | null;
  /** What the business's agents see: only customers assigned to them, or all. */
  agents_see?: AgentsSee;
  created_at: string;
  updated_at: string;
}

export interface Settings {
  business: Business;
  numbers: string[];
}

export type SettingsInput = Partial<Pick<Business, 'greeting' | 'agent_instructions' | 'voice' | 'business_hours' | 'transfer_number' | 'agents_see'>>;

/** The error body of every non-2xx answer. */
export interface ApiErrorBody {
  error: string;
  message?: string;
  fields?: Record<string, string>;
  id?: number;
  retry_after?: number;
}

/** SSE event names and their payloads (docs/api.md, "Live events"). */
export interface EventPayloads {
  hello: { user_id: number; business_id: number | null; gateway: string; at: string };
  call_live: LiveCall;
  call_ended: { call_sid: string; ended_at: string; reason?: string };
  call: Call;
  turn: Turn & { call_sid: string };
  analysis: { call_sid: string; summary: string | null; sentiment: string | null; lead_score: number | null };
  lead: Partial<Customer> & { id: number; phone: string };
  appointment: Appointment;
  note: Note;
  task: Task;
  message: Message;
}

export type EventName = keyof EventPayloads;
export const EVENT_NAMES: readonly EventName[] = [
  'hello',
  'call_live',
  'call_ended',
  'call',
  'turn',
  'analysis',
  'lead',
  'appointment',
  'note',
  'task',
  'message',
];

export type AppointmentStatus = Appointment['status'];
export const APPOINTMENT_STATUSES: readonly AppointmentStatus[] = ['requested', 'confirmed', 'done', 'cancelled'];

/** Rows of /api/appointments: plus the customer's name and phone. */
export interface AppointmentRow extends Appointment {
  customer_name?: string | null;
  customer_phone?: string | null;
}

export interface AppointmentsPage {
  from: string;
  to: string;
  rows: AppointmentRow[];
  unscheduled: AppointmentRow[];
}

export interface AppointmentInput {
  customer_id?: number;
  starts_at?: string | null;
  requested_text?: string | null;
  address?: string | null;
  notes?: string | null;
  status?: AppointmentStatus;
}

/** Rows of /api/tasks: plus the customer's and assignee's names. */
export interface TaskRow extends Task {
  customer_name?: string | null;
  assignee_name?: string | null;
}

export interface TaskInput {
  title?: string;
  due_at?: string | null;
  assignee_id?: number | null;
  customer_id?: number | null;
  done?: boolean;
}

export interface UserRow {
  id: number;
  business_id: number | null;
  email: string;
  name: string;
  role: Role;
  active: boolean;
  created_at: string;
  last_login_at: string | null;
}

export interface AuditEntry {
  id: number;
  at: string;
  user_id: number | null;
  user_name: string | null;
  action: string;
  entity: string | null;
  entity_id: number | null;
  detail: Record<string, unknown> | null;
}

/** Customer fields a CSV import can fill (docs/api.md, CSV import). */
export const IMPORT_FIELDS = [
  'phone',
  'name',
  'pipeline',
  'stage',
  'source',
  'deal_type',
  'cities',
  'neighbourhoods',
  'rooms_min',
  'rooms_max',
  'budget_min',
  'budget_max',
  'property_type',
  'timeline',
] as const;
export type ImportField = (typeof IMPORT_FIELDS)[number];

export interface ImportRequest {
  csv: string;
  mapping: Partial<Record<ImportField, string>>;
  on_existing: 'skip' | 'update';
  dry_run: boolean;
  defaults?: { source?: string; pipeline?: string; stage?: string };
}

export type ImportAction = 'create' | 'update' | 'skip' | 'invalid';

export interface ImportReport {
  dry_run: boolean;
  counts: Record<ImportAction, number>;
  rows: Array<{ line: number; phone: string | null; name: string | null; action: ImportAction; id?: number; error?: string }>;
}
