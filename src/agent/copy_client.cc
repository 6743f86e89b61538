#include "agent/copy_client.h"

#include <signal.h>

#include <cstdio>

namespace vmcat {

namespace {

void PrintError(const std::string& message) {
  std::fprintf(stderr, "vmcat: cp: %s\n", message.c_str());
}

}  // namespace

CopyClient::CopyClient(Loop* loop, CopyRequest request)
    : loop_(loop), request_(std::move(request)) {
  CopySend send = [this](MessageType type, std::string_view payload) { Send(type, payload); };
  if (request_.into_guest) {
    sender_ = std::make_unique<CopySender>(request_.sources, send);
  } else {
    // The agent is not trusted with names: it may send only what we asked for.
    CopyReceiver::Options options;
    for (const std::string& src : request_.sources)
      options.expected_names.push_back(BaseName(src));
    receiver_ =
        std::make_unique<CopyReceiver>(request_.dest, request_.sources.size(), send, options);
  }
}

CopyClient::~CopyClient() {
  // Destroyed before the link: an unfinished receiver undoes its work now.
  receiver_.reset();
}

Status CopyClient::Prepare() {
  if (sender_) return sender_->Start();
  for (const std::string& src : request_.sources) {
    std::string base = BaseName(src);
    if (base.empty() || base == "." || base == "..") {
      return Status::ErrorWithErrno(
          request_.remote_prefix + src + ": name the directory itself, not \"/\", \".\" or \"..\"",
          EINVAL);
    }
  }
  return receiver_->Start();
}

void CopyClient::Send(MessageType type, std::string_view payload) {
  if (link_) link_->SendFrame(type, kSession, payload);
}

int CopyClient::Run(std::unique_ptr<FrameLink> link) {
  link_ = std::move(link);
  link_->on_frame = [this](Frame f) { OnFrame(f); };
  link_->on_closed = [this](Status s) {
    if (finished_) return;
    if (receiver_) receiver_->Abort();
    PrintError(request_.remote_prefix + " lost the connection to the agent (" + s.message() + ")");
    Finish(1);
  };
  Status s = link_->Start();
  if (!s.ok()) {
    PrintError(s.message());
    return 1;
  }
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    (void)loop_->WatchSignal(sig, [this](int signo) {
      if (finished_) return;
      // Closing the connection makes the agent undo its side.
      if (receiver_) receiver_->Abort();
      PrintError("interrupted");
      Finish(128 + signo);
    });
  }
  Json opening = Json::object();
  if (!request_.user.empty()) opening["user"] = request_.user;
  if (request_.into_guest) {
    opening["dest"] = request_.dest;
    opening["sources"] = request_.sources.size();
    Send(MessageType::kCopyIn, opening.dump());
    Pump();
  } else {
    opening["paths"] = request_.sources;
    Send(MessageType::kCopyOut, opening.dump());
  }
  if (!finished_) (void)loop_->Run();
  return exit_code_;
}

void CopyClient::Pump() {
  if (finished_ || sender_->done()) return;
  Status s = sender_->Pump();
  if (!s.ok()) FailLocal(s);
}

void CopyClient::OnFrame(const Frame& f) {
  if (finished_ || f.session != kSession) return;
  if (f.type == MessageType::kError) return FailRemote(f);
  if (sender_) {
    OnSenderFrame(f);
  } else {
    OnReceiverFrame(f);
  }
}

void CopyClient::OnSenderFrame(const Frame& f) {
  switch (f.type) {
    case MessageType::kWindow: {
      auto credit = DecodeWindowPayload(f.payload);
      if (credit.ok()) sender_->AddCredit(*credit);
      Pump();
      return;
    }
    case MessageType::kCopyEnd:
      // The agent's answer: every file is in place and verified.
      if (!sender_->done()) {
        PrintError(ShowRemote("the agent ended the copy early"));
        return Finish(1);
      }
      PrintWarnings(sender_->warnings(), /*remote=*/false);
      return Finish(0);
    default:
      return;
  }
}

void CopyClient::OnReceiverFrame(const Frame& f) {
  switch (f.type) {
    case MessageType::kEntry:
    case MessageType::kData:
    case MessageType::kEntryEnd:
    case MessageType::kCopyEnd: {
      Status s = receiver_->OnFrame(f.type, f.payload);
      if (!s.ok()) return FailLocal(s);
      if (receiver_->done()) {
        PrintWarnings(receiver_->warnings(), /*remote=*/true);
        Finish(0);
      }
      return;
    }
    default:
      return;
  }
}

void CopyClient::FailLocal(const Status& s) {
  if (finished_) return;
  Send(MessageType::kError, Json{{"message", s.message()}, {"errno", s.sys_errno()}}.dump());
  if (receiver_) receiver_->Abort();
  PrintError(s.message());
  Finish(1);
}

void CopyClient::FailRemote(const Frame& error) {
  auto j = error.JsonPayload();
  std::string message = "the agent reported an error";
  if (j.ok()) {
    auto m = j->find("message");
    if (m != j->end() && m->is_string()) message = m->get<std::string>();
  }
  if (receiver_) receiver_->Abort();
  PrintError(ShowRemote(message));
  Finish(1);
}

std::string CopyClient::ShowRemote(const std::string& message) const {
  // The agent names guest paths as absolute paths: show them as NAME:/path.
  if (!message.empty() && message[0] == '/') return request_.remote_prefix + message;
  return request_.remote_prefix + " " + message;
}

void CopyClient::PrintWarnings(const std::vector<std::string>& warnings, bool remote) {
  for (const std::string& w : warnings)
    PrintError("warning: " + (remote ? ShowRemote(w) : w));
}

void CopyClient::Finish(int code) {
  if (finished_) return;
  finished_ = true;
  exit_code_ = code;
  loop_->Stop();
}

}  // namespace vmcat
