-- Where a turn was heard: "live" on the call's media stream, or
-- "recording" when the watchdog's fallback recorded the caller and the
-- gateway transcribed the recording afterwards (docs/watchdog.md). The UI
-- marks recorded turns; before this column the gateway kept the source in
-- the latency JSON only.
ALTER TABLE turns ADD COLUMN source text NOT NULL DEFAULT 'live'
    CHECK (source IN ('live', 'recording'));
UPDATE turns SET source = 'recording' WHERE latency ->> 'source' = 'recording';
