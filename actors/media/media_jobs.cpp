#include "actors/media/media_jobs.hpp"

#include "actors/media/media_repository.hpp"
#include "actors/spawn_role.hpp"

#include <chrono>

namespace axon::media {

namespace {

using run_atom = caf::atom_constant<caf::atom("run")>;

/// Synapse's MEDIA_RETENTION_CHECK_PERIOD.
constexpr auto retention_period = std::chrono::hours(1);

caf::behavior media_jobs(caf::event_based_actor* self, media_repository* repo) {
  self->send(self, run_atom::value);
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
  };
}

} // namespace

caf::actor spawn_media_jobs(caf::actor_system& sys, media_repository* repo) {
  return actors::spawn_role(sys, media_jobs, repo);
}

} // namespace axon::media
