-- 021_events_by_time: /timestamp_to_event (client and federation) finds the
-- event of a room closest to a time.
CREATE INDEX events_room_ts ON events (room_id, origin_server_ts);
