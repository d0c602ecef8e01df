// actors/boot/main.cpp -- `axon`: command line, configuration, and the start
// of this instance's roles. Flags mean what Synapse's do:
//   axon -c FILE [-c FILE ...]                 run
//   axon -c FILE --generate-config --server-name NAME [--data-directory DIR]
//   axon -c FILE --generate-keys
//   axon routes nginx|haproxy -c FILE [--worker FILE ...]  (routes_command.hpp)
#include "actors/boot/boot.hpp"
#include "actors/boot/routes_command.hpp"

#include "config/homeserver_config.hpp"

#include <malloc.h>
#include <iostream>
#include <string>
#include <vector>

namespace {

void usage(std::ostream& os) {
  os << "usage: axon -c FILE [-c FILE ...] [--generate-config --server-name NAME\n"
        "            [--data-directory DIR] [--report-stats yes|no]] [--generate-keys]\n"
        "       axon routes nginx|haproxy -c FILE [--worker FILE ...] [--listen PORT]\n";
}

} // namespace

int main(int argc, char** argv) {
  // glibc gives every thread that allocates an arena of its own and keeps
  // what each ever held: with a pool of request threads per listener that
  // is most of the memory a burst of requests leaves behind. A few arenas
  // serve these threads as well.
  mallopt(M_ARENA_MAX, 4);
  axon::boot::options opts;
  std::vector<std::string> args(argv + 1, argv + argc);
  // `axon routes nginx|haproxy ...`: reverse-proxy config for the layout.
  if (!args.empty() && args[0] == "routes")
    return axon::boot::routes_command({args.begin() + 1, args.end()});
  for (size_t i = 0; i < args.size(); ++i) {
    auto& a = args[i];
    auto value = [&](const char* flag) -> std::string {
      auto eq = a.find('=');
      if (eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= args.size()) {
        std::cerr << "axon: " << flag << " needs a value\n";
        std::exit(2);
      }
      return args[++i];
    };
    auto is = [&](const char* flag) { return a == flag || a.rfind(std::string(flag) + "=", 0) == 0; };
    if (is("-c") || is("--config-path") || is("--config-file")) opts.config_files.push_back(value("-c"));
    else if (a == "--generate-config") opts.generate_config = true;
    else if (a == "--generate-keys") opts.generate_keys = true;
    else if (is("--server-name") || is("-H")) opts.server_name = value("--server-name");
    else if (is("--data-directory")) opts.data_directory = value("--data-directory");
    else if (is("--report-stats")) value("--report-stats"); // accepted; Axon reports nothing
    else if (a == "-h" || a == "--help") {
      usage(std::cout);
      return 0;
    } else {
      std::cerr << "axon: unknown argument " << a << "\n";
      usage(std::cerr);
      return 2;
    }
  }
  if (opts.config_files.empty()) {
    std::cerr << "axon: give at least one config file with -c\n";
    usage(std::cerr);
    return 2;
  }
  if (opts.generate_config) return axon::boot::generate_config(opts);
  if (opts.generate_keys) return axon::boot::generate_keys(opts);
  return axon::boot::run(opts);
}
