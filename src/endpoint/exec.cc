#include "endpoint/exec.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "base/program.h"
#include "base/strings.h"
#include "tty/terminal.h"

namespace vmcat {

namespace {

// posix_spawn attributes and file actions with RAII.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawnattr_init(&attr_);
    posix_spawn_file_actions_init(&actions_);
  }
  ~SpawnSetup() {
    posix_spawnattr_destroy(&attr_);
    posix_spawn_file_actions_destroy(&actions_);
  }
  posix_spawnattr_t* attr() { return &attr_; }
  posix_spawn_file_actions_t* actions() { return &actions_; }

 private:
  posix_spawnattr_t attr_;
  posix_spawn_file_actions_t actions_;
};

// The child's stdin is `in` and its stdout (and with `with_stderr`, stderr)
// is `out`, for the directions `access` uses; the others stay inherited.
void RedirectStdio(SpawnSetup* setup, int in, int out, bool with_stderr, Access access) {
  if (access != Access::kRead) posix_spawn_file_actions_adddup2(setup->actions(), in, 0);
  if (access != Access::kWrite) {
    posix_spawn_file_actions_adddup2(setup->actions(), out, 1);
    if (with_stderr) posix_spawn_file_actions_adddup2(setup->actions(), out, 2);
  }
}

// Resolves a program name against a PATH-like list, as execvp would; the
// name itself when nothing is found (posix_spawnp then reports why).
std::string SearchPath(const std::string& program, const std::string& path_list) {
  std::string found = FindProgram(program, path_list);
  return found.empty() ? program : found;
}

}  // namespace

Result<std::vector<std::string>> SplitCommandLine(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == ' ') {  // only spaces, as socat: a tab or newline is part of a word
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\\') {
      if (++i >= line.size()) return Status::Error("command line ends with a backslash");
      word += line[i];
    } else if (c == '\'' || c == '"') {
      size_t close = line.find(c, i + 1);
      if (close == std::string_view::npos) {
        return Status::Error(std::string("unterminated ") + c + " quote in command line");
      }
      word.append(line.substr(i + 1, close - i - 1));
      i = close;
    } else {
      word += c;
    }
  }
  if (in_word) words.push_back(std::move(word));
  if (words.empty()) return Status::Error("empty command line");
  return words;
}

namespace {

// The program and its argument words, as EXEC/SYSTEM and their options say.
struct Command {
  std::vector<std::string> words;
  std::string program;  // what posix_spawnp looks up (a path with `path=`)
};

Result<Command> PrepareCommand(const SingleAddress& address) {
  const AddressOptions& o = address.options;
  Command c;
  if (address.type() == AddressType::kSystem) {
    c.words = {"/bin/sh", "-c", address.params[0]};
  } else {
    VMCAT_ASSIGN_OR_RETURN(c.words, SplitCommandLine(address.params[0]));
  }
  c.program = c.words[0];
  if (o.path) c.program = SearchPath(c.program, *o.path);
  if (o.login) {
    size_t slash = c.words[0].rfind('/');
    c.words[0] = "-" + c.words[0].substr(slash == std::string::npos ? 0 : slash + 1);
  }
  return c;
}

// Session, process group and signals of the child.
void SetSpawnAttributes(const AddressOptions& o, SpawnSetup* setup) {
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  bool setsid = o.setsid || o.ctty;
  if (setsid) flags |= POSIX_SPAWN_SETSID;
  if (o.setpgid && !setsid) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(setup->attr(), 0);
  }
  posix_spawnattr_setflags(setup->attr(), flags);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(setup->attr(), &all);
  posix_spawnattr_setsigmask(setup->attr(), &none);
}

// execvp's PATH search, remembered: a fork server starts the same program
// for every connection, and each miss in the search is a failed execve in the
// child. Only found paths are remembered, and only while PATH is unchanged;
// Spawn searches again if a remembered one stops working.
class ProgramPathCache {
 public:
  std::string Resolve(const std::string& name) {
    if (name.find('/') != std::string::npos) return name;
    const char* env = getenv("PATH");
    std::string path_list = env ? env : "/bin:/usr/bin";  // execvp's default
    if (path_list != path_list_) {
      found_.clear();
      path_list_ = path_list;
    }
    auto it = found_.find(name);
    if (it != found_.end()) return it->second;
    std::string resolved = SearchPath(name, path_list);
    if (resolved != name) found_[name] = resolved;
    return resolved;
  }
  void Forget(const std::string& name) { found_.erase(name); }

 private:
  std::string path_list_;
  std::unordered_map<std::string, std::string> found_;
};

Result<pid_t> Spawn(Command& c, SpawnSetup* setup, const std::vector<std::string>& extra_env) {
  std::vector<char*> argv = NullTerminated(c.words);
  // As socat does, the program learns who started it (SOCAT_PID, SOCAT_PPID)
  // and, for an accepted connection, its addresses (in `extra_env`).
  std::vector<std::string> extra = extra_env;
  std::string pid_text = std::to_string(getpid());
  extra.push_back("SOCAT_PID=" + pid_text);
  extra.push_back("SOCAT_PPID=" + pid_text);
  std::vector<std::string> env_strings = EnvironmentWith(extra);
  std::vector<char*> envp = NullTerminated(env_strings);
  static ProgramPathCache cache;
  std::string program = cache.Resolve(c.program);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, program.c_str(), setup->actions(), setup->attr(), argv.data(),
                        envp.data());
  if (rc != 0 && program != c.program) {
    cache.Forget(c.program);  // moved or removed since: let execvp search
    rc = posix_spawnp(&pid, c.program.c_str(), setup->actions(), setup->attr(), argv.data(),
                      envp.data());
  }
  if (rc != 0) return Status::Errno("exec " + Quote(c.words[0]), rc);
  return pid;
}

}  // namespace

Result<std::unique_ptr<ChildProcess>> SpawnExecOnConnection(
    const SingleAddress& address, int connection, const std::vector<std::string>& extra_env) {
  VMCAT_ASSIGN_OR_RETURN(Command command, PrepareCommand(address));
  SpawnSetup setup;
  SetSpawnAttributes(address.options, &setup);
  RedirectStdio(&setup, connection, connection, address.options.stderr_to_peer, Access::kBoth);
  // The program does blocking I/O on it, as on the socketpair it would get.
  VMCAT_RETURN_IF_ERROR(SetNonBlocking(connection, false));
  VMCAT_ASSIGN_OR_RETURN(pid_t pid, Spawn(command, &setup, extra_env));
  return std::make_unique<ChildProcess>(pid);
}

Result<std::unique_ptr<Endpoint>> SpawnExec(const SingleAddress& address, std::string name,
                                            const std::vector<std::string>& extra_env,
                                            Access access) {
  const AddressOptions& o = address.options;
  VMCAT_ASSIGN_OR_RETURN(Command command, PrepareCommand(address));
  SpawnSetup setup;
  SetSpawnAttributes(o, &setup);

  UniqueFd ours_read, ours_write;  // relay side
  FdKind kind_read, kind_write;
  UniqueFd child_in, child_out;  // child side (kept open until spawned)
  std::string slave_path;

  if (o.pty) {
    VMCAT_ASSIGN_OR_RETURN(PtyPair pty, OpenPtyPair());
    UniqueFd master = std::move(pty.master);
    UniqueFd slave = std::move(pty.slave);
    slave_path = pty.slave_path;
    const char* path = slave_path.c_str();
    if (o.termios.Any()) VMCAT_RETURN_IF_ERROR(SetTermios(slave.get(), o.termios));
    VMCAT_RETURN_IF_ERROR(SetNonBlocking(master.get(), true));
    if (o.ctty) {
      // A new session leader that opens a terminal without O_NOCTTY gets it as
      // its controlling terminal; posix_spawn runs setsid before file actions.
      posix_spawn_file_actions_addopen(setup.actions(), 0, path, O_RDWR, 0);
      posix_spawn_file_actions_adddup2(setup.actions(), 0, 1);
      if (o.stderr_to_peer) posix_spawn_file_actions_adddup2(setup.actions(), 0, 2);
    } else {
      RedirectStdio(&setup, slave.get(), slave.get(), o.stderr_to_peer, Access::kBoth);
    }
    child_in = std::move(slave);
    ours_read = std::move(master);
    kind_read = kind_write = FdKind::kTty;
  } else if (o.pipes) {
    VMCAT_ASSIGN_OR_RETURN(Pipe to_child, MakePipe(0));
    VMCAT_ASSIGN_OR_RETURN(Pipe from_child, MakePipe(0));
    VMCAT_RETURN_IF_ERROR(SetNonBlocking(to_child.write_end.get(), true));
    VMCAT_RETURN_IF_ERROR(SetNonBlocking(from_child.read_end.get(), true));
    RedirectStdio(&setup, to_child.read_end.get(), from_child.write_end.get(), o.stderr_to_peer,
                  access);
    child_in = std::move(to_child.read_end);
    child_out = std::move(from_child.write_end);
    ours_read = std::move(from_child.read_end);
    ours_write = std::move(to_child.write_end);
    kind_read = kind_write = FdKind::kPipe;
  } else {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
      return Status::Errno("socketpair", errno);
    }
    ours_read.reset(sv[0]);
    child_in.reset(sv[1]);
    VMCAT_RETURN_IF_ERROR(SetNonBlocking(sv[0], true));
    // Only the directions the relay uses go through the socketpair; the
    // program inherits our descriptor for the other one.
    RedirectStdio(&setup, sv[1], sv[1], o.stderr_to_peer, access);
    kind_read = kind_write = FdKind::kStreamSocket;
  }

  VMCAT_ASSIGN_OR_RETURN(pid_t pid, Spawn(command, &setup, extra_env));

  std::unique_ptr<Endpoint> endpoint;
  if (ours_write.valid()) {
    endpoint = std::make_unique<Endpoint>(std::move(name), std::move(ours_read), kind_read,
                                          std::move(ours_write), kind_write);
  } else {
    endpoint = std::make_unique<Endpoint>(std::move(name), std::move(ours_read), kind_read);
  }
  endpoint->set_child(std::make_unique<ChildProcess>(pid));
  return endpoint;
}

}  // namespace vmcat
