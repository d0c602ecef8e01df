-- 007_user_directory: the user directory, maintained by the user directory
-- updater (update_user_directory_from_worker) from the events stream.
CREATE TABLE user_directory (
  user_id TEXT PRIMARY KEY,
  display_name TEXT,
  avatar_url TEXT
);

-- Rooms each user is joined to, and whether the room is public (join rule
-- public or history world_readable) so searches can see its members.
CREATE TABLE user_directory_rooms (
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  is_public INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, room_id)
);
CREATE INDEX user_directory_rooms_room ON user_directory_rooms (room_id);
