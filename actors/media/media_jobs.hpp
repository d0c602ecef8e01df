// actors/media/media_jobs.hpp -- the media repository's background jobs, on
// the instance that runs them (homeserver_config::runs_media_jobs:
// media_instance_running_background_jobs, as in Synapse): media_retention at
// start and then every hour (Synapse's MEDIA_RETENTION_CHECK_PERIOD), and
// the URL preview cache's expiry every 10 s (as Synapse's).
#pragma once

#include "messages/caf_types.hpp"

namespace axon::media {

class media_repository;

/// Spawns the jobs actor on a thread of its own (it deletes files and rows).
/// `repo` must outlive it.
caf::actor spawn_media_jobs(caf::actor_system& sys, media_repository* repo);

} // namespace axon::media
