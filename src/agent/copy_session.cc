#include "agent/copy_session.h"

#include <grp.h>
#include <sys/fsuid.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "agent/agent.h"
#include "agent/copy_receiver.h"
#include "agent/copy_sender.h"
#include "agent/guest_user.h"
#include "base/log.h"
#include "base/strings.h"

namespace vmcat {

namespace {

// Acts as `user` for filesystem access while in scope. The agent is single
// threaded and a session's work is synchronous, so nothing else runs with
// the borrowed identity.
class ScopedFsUser {
 public:
  explicit ScopedFsUser(const std::optional<GuestUser>& user) {
    if (!user) return;
    active_ = true;
    int n = getgroups(0, nullptr);
    if (n > 0) {
      saved_groups_.resize(static_cast<size_t>(n));
      n = getgroups(n, saved_groups_.data());
      saved_groups_.resize(n > 0 ? static_cast<size_t>(n) : 0);
    }
    (void)setgroups(user->groups.size(), user->groups.data());
    saved_gid_ = static_cast<gid_t>(setfsgid(user->gid));
    saved_uid_ = static_cast<uid_t>(setfsuid(user->uid));
  }
  ~ScopedFsUser() {
    if (!active_) return;
    setfsuid(saved_uid_);
    setfsgid(saved_gid_);
    (void)setgroups(saved_groups_.size(), saved_groups_.data());
  }
  ScopedFsUser(const ScopedFsUser&) = delete;
  ScopedFsUser& operator=(const ScopedFsUser&) = delete;

  /// setfsuid() reports no errors: check that it took.
  static bool Works(const GuestUser& user) {
    ScopedFsUser probe(user);
    return static_cast<uid_t>(setfsuid(static_cast<uid_t>(-1))) == user.uid;
  }

 private:
  bool active_ = false;
  uid_t saved_uid_ = 0;
  gid_t saved_gid_ = 0;
  std::vector<gid_t> saved_groups_;
};

// What both directions share: the output, the user, the end.
class CopySessionBase : public AgentSession {
 protected:
  CopySessionBase(SessionOutput* out, std::optional<GuestUser> user)
      : out_(out), user_(std::move(user)) {}

  void Fail(const Status& s) {
    if (over_) return;
    LogNotice("copy failed: " + s.message());
    out_->SendJson(MessageType::kError, {{"message", s.message()}, {"errno", s.sys_errno()}});
    Cancel();
    End();
  }
  void End() {
    if (over_) return;
    over_ = true;
    out_->Finished();
  }
  /// Undoes what is unfinished (the receiver's temporary files).
  virtual void Cancel() {}

  void Abort() override {
    if (over_) return;
    LogNotice("copy abandoned by the host: undoing what is unfinished");
    ScopedFsUser as(user_);
    Cancel();
    End();
  }

  SessionOutput* out_;
  std::optional<GuestUser> user_;
  bool over_ = false;
};

class CopyInSession : public CopySessionBase {
 public:
  CopyInSession(SessionOutput* out, std::optional<GuestUser> user, std::string dest, size_t sources)
      : CopySessionBase(out, std::move(user)) {
    CopyReceiver::Options options;
    options.keep_setid = true;  // the host's root asked for it
    receiver_ = std::make_unique<CopyReceiver>(
        std::move(dest), sources,
        [out](MessageType type, std::string_view payload) { out->Send(type, payload); }, options);
  }
  ~CopyInSession() override {
    ScopedFsUser as(user_);
    receiver_.reset();  // rolls back an unfinished copy
  }

  void Start() {
    ScopedFsUser as(user_);
    Status s = receiver_->Start();
    if (!s.ok()) Fail(s);
  }

  void OnFrame(const Frame& f) override {
    if (over_) return;
    ScopedFsUser as(user_);
    switch (f.type) {
      case MessageType::kEntry:
      case MessageType::kData:
      case MessageType::kEntryEnd:
      case MessageType::kCopyEnd: {
        Status s = receiver_->OnFrame(f.type, f.payload);
        if (!s.ok()) return Fail(s);
        if (receiver_->done()) End();
        return;
      }
      case MessageType::kError:  // the host could not go on (it says why)
        Cancel();
        End();
        return;
      default:
        return;
    }
  }

 private:
  void Cancel() override { receiver_->Abort(); }
  std::unique_ptr<CopyReceiver> receiver_;
};

class CopyOutSession : public CopySessionBase {
 public:
  CopyOutSession(SessionOutput* out, std::optional<GuestUser> user, std::vector<std::string> paths)
      : CopySessionBase(out, std::move(user)),
        sender_(std::move(paths),
                [out](MessageType type, std::string_view payload) { out->Send(type, payload); }) {}

  void Start() {
    ScopedFsUser as(user_);
    Status s = sender_.Start();
    if (!s.ok()) return Fail(s);
    Pump();
  }

  void OnFrame(const Frame& f) override {
    if (over_) return;
    switch (f.type) {
      case MessageType::kWindow: {
        auto credit = DecodeWindowPayload(f.payload);
        if (credit.ok()) sender_.AddCredit(*credit);
        ScopedFsUser as(user_);
        Pump();
        return;
      }
      case MessageType::kCopyEnd:  // the host has everything in place
      case MessageType::kError:    // the host failed (it reports why)
        End();
        return;
      default:
        return;
    }
  }

 private:
  void Pump() {
    if (sender_.done()) return;
    Status s = sender_.Pump();
    if (!s.ok()) Fail(s);
  }
  CopySender sender_;
};

Result<std::vector<std::string>> GuestPaths(const Json& j) {
  std::vector<std::string> paths;
  auto it = j.find("paths");
  if (it != j.end() && it->is_array()) {
    for (const Json& p : *it) {
      if (!p.is_string()) return Status::Error("COPY_OUT: \"paths\" must be strings");
      paths.push_back(p.get<std::string>());
    }
  } else if (auto one = j.find("path"); one != j.end() && one->is_string()) {
    paths.push_back(one->get<std::string>());
  }
  if (paths.empty()) return Status::Error("COPY_OUT: no \"paths\" to copy");
  return paths;
}

Status CheckAbsolute(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return Status::ErrorWithErrno(Quote(path) + ": guest paths must be absolute", EINVAL);
  }
  return Status::Ok();
}

// Parses the opening; a session that could not be made reports why.
Result<std::unique_ptr<AgentSession>> Open(SessionOutput* out, const Frame& f) {
  VMCAT_ASSIGN_OR_RETURN(Json j, f.JsonPayload());
  std::optional<GuestUser> user;
  auto u = j.find("user");
  if (u != j.end() && u->is_string() && !u->get<std::string>().empty()) {
    VMCAT_ASSIGN_OR_RETURN(user, LookupGuestUser(u->get<std::string>()));
    if (!ScopedFsUser::Works(*user)) {
      return Status::ErrorWithErrno(
          "cannot act as user " + Quote(user->name) + ": the agent does not run as root", EPERM);
    }
  }
  if (f.type == MessageType::kCopyIn) {
    auto dest = j.find("dest");
    if (dest == j.end() || !dest->is_string()) return Status::Error("COPY_IN: no \"dest\"");
    VMCAT_RETURN_IF_ERROR(CheckAbsolute(dest->get<std::string>()));
    auto sources = j.find("sources");
    size_t n = 1;
    if (sources != j.end() && sources->is_number_unsigned() && sources->get<uint64_t>() > 0) {
      n = static_cast<size_t>(sources->get<uint64_t>());
    }
    auto session = std::make_unique<CopyInSession>(out, std::move(user), *dest, n);
    session->Start();
    return std::unique_ptr<AgentSession>(std::move(session));
  }
  VMCAT_ASSIGN_OR_RETURN(std::vector<std::string> paths, GuestPaths(j));
  for (const std::string& p : paths)
    VMCAT_RETURN_IF_ERROR(CheckAbsolute(p));
  auto session = std::make_unique<CopyOutSession>(out, std::move(user), std::move(paths));
  session->Start();
  return std::unique_ptr<AgentSession>(std::move(session));
}

// The session for a request that was refused: it only answers ERROR.
class RefusedSession : public AgentSession {
 public:
  void OnFrame(const Frame&) override {}
  void Abort() override {}
};

}  // namespace

std::unique_ptr<AgentSession> MakeCopySession(Loop* loop, SessionOutput* out,
                                              const Frame& opening) {
  if (opening.type != MessageType::kCopyIn && opening.type != MessageType::kCopyOut) {
    return nullptr;
  }
  auto session = Open(out, opening);
  if (session.ok()) return std::move(session).value();
  out->SendJson(MessageType::kError,
                {{"message", session.status().message()}, {"errno", session.status().sys_errno()}});
  out->Finished();
  return std::make_unique<RefusedSession>();
}

void RegisterCopySessions() {
  RegisterCopySessionFactory(MakeCopySession);
}

}  // namespace vmcat
