-- 014_instance_ids: a small number for each events writer's name, for the
-- per-writer positions in sync and pagination tokens ("s10~1.14_..."): the
-- number stays the writer's when stream_writers.events is reordered or
-- grows, so a client's token keeps its meaning (Synapse's instance_map).
CREATE TABLE instance_ids (
  instance_id BIGINT NOT NULL PRIMARY KEY,
  instance_name TEXT NOT NULL UNIQUE
);
