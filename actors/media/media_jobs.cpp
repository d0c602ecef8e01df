#include "actors/media/media_jobs.hpp"

#include "actors/media/media_repository.hpp"
#include "actors/media/url_previewer.hpp"
#include "config/homeserver_config.hpp"
#include "actors/spawn_role.hpp"

#include <chrono>

namespace axon::media {

namespace {

using run_atom = caf::atom_constant<caf::atom("run")>;
using expire_atom = caf::atom_constant<caf::atom("expire")>;

/// Synapse's MEDIA_RETENTION_CHECK_PERIOD, and its URL cache expiry period.
constexpr auto retention_period = std::chrono::hours(1);
constexpr auto url_cache_period = std::chrono::seconds(10);

caf::behavior media_jobs(caf::event_based_actor* self, media_repository* repo) {
  auto& media = repo->cfg().media;
  if (media.retention_local_ms || media.retention_remote_ms) self->send(self, run_atom::value);
  if (repo->previews()) self->send(self, expire_atom::value);
  return {
    [=](run_atom) {
      try {
        if (auto n = repo->apply_retention())
          caf::aout(self) << "media: media_retention deleted " << n << " items\n";
      } catch (const std::exception& e) {
        caf::aout(self) << "media: media_retention failed: " << e.what() << "\n";
      }
      self->delayed_send(self, retention_period, run_atom::value);
    },
    [=](expire_atom) {
      try {
        repo->previews()->expire();
      } catch (const std::exception& e) {
        caf::aout(self) << "media: URL preview expiry failed: " << e.what() << "\n";
      }
      self->delayed_send(self, url_cache_period, expire_atom::value);
    },
  };
}

} // namespace

caf::actor spawn_media_jobs(caf::actor_system& sys, media_repository* repo) {
  return actors::spawn_role(sys, media_jobs, repo);
}

} // namespace axon::media
