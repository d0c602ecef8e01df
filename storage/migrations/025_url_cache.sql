-- 025_url_cache: URL previews (preview_url), in Synapse's table: each
-- preview made, with the Open Graph answer (og, JSON text) and the page or
-- image it came from (media_id: a local_media_repository row whose
-- url_cache is the URL; its files are under url_cache/ and
-- url_cache_thumbnails/). History-aware: a `ts` in the past finds the
-- preview made before it.
CREATE TABLE local_media_repository_url_cache (
  url TEXT NOT NULL,
  response_code INTEGER NOT NULL,
  etag TEXT,
  expires_ts BIGINT NOT NULL,
  og TEXT NOT NULL,
  media_id TEXT NOT NULL,
  download_ts BIGINT NOT NULL
);
CREATE INDEX local_media_repository_url_cache_by_url_download_ts
  ON local_media_repository_url_cache (url, download_ts);
CREATE INDEX local_media_repository_url_cache_expires_idx ON local_media_repository_url_cache (expires_ts);
