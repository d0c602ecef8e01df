-- 024_media: the media repository's metadata, in Synapse's tables and
-- column names (so an admin moving a Synapse media store over finds the
-- same shape); the files are under media_store_path in Synapse's layout.
-- A row whose media_length is NULL is an id made by POST /create and not
-- uploaded yet. sha256 finds identical files: they share one file on disk
-- (hard links under each id's path).
CREATE TABLE local_media_repository (
  media_id TEXT PRIMARY KEY,
  media_type TEXT,
  media_length BIGINT,
  created_ts BIGINT NOT NULL,
  upload_name TEXT,
  user_id TEXT,
  quarantined_by TEXT,
  url_cache TEXT,
  last_access_ts BIGINT,
  safe_from_quarantine INTEGER NOT NULL DEFAULT 0,
  authenticated INTEGER NOT NULL DEFAULT 0,
  sha256 TEXT
);
CREATE INDEX local_media_repository_user ON local_media_repository (user_id, created_ts);
CREATE INDEX local_media_repository_sha256 ON local_media_repository (sha256);

CREATE TABLE local_media_repository_thumbnails (
  media_id TEXT NOT NULL,
  thumbnail_width INTEGER NOT NULL,
  thumbnail_height INTEGER NOT NULL,
  thumbnail_type TEXT NOT NULL,
  thumbnail_method TEXT NOT NULL,
  thumbnail_length BIGINT NOT NULL,
  UNIQUE (media_id, thumbnail_width, thumbnail_height, thumbnail_type, thumbnail_method)
);

-- Remote media fetched from its origin and kept here.
CREATE TABLE remote_media_cache (
  media_origin TEXT NOT NULL,
  media_id TEXT NOT NULL,
  media_type TEXT,
  created_ts BIGINT NOT NULL,
  upload_name TEXT,
  media_length BIGINT NOT NULL,
  filesystem_id TEXT NOT NULL,
  last_access_ts BIGINT,
  quarantined_by TEXT,
  authenticated INTEGER NOT NULL DEFAULT 0,
  sha256 TEXT,
  UNIQUE (media_origin, media_id)
);

CREATE TABLE remote_media_cache_thumbnails (
  media_origin TEXT NOT NULL,
  media_id TEXT NOT NULL,
  thumbnail_width INTEGER NOT NULL,
  thumbnail_height INTEGER NOT NULL,
  thumbnail_method TEXT NOT NULL,
  thumbnail_type TEXT NOT NULL,
  thumbnail_length BIGINT NOT NULL,
  filesystem_id TEXT NOT NULL,
  UNIQUE (media_origin, media_id, thumbnail_width, thumbnail_height, thumbnail_type, thumbnail_method)
);
