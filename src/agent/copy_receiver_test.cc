// CopySender and CopyReceiver together, in memory, on real temporary
// directories: the tree stream end to end without an agent.
#include "agent/copy_receiver.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <random>

#include "agent/copy_sender.h"
#include "base/scratch_dir_for_tests.h"

namespace vmcat {
namespace {

void WriteFile(const std::string& path, const std::string& data, mode_t mode = 0644) {
  std::ofstream(path, std::ios::binary) << data;
  chmod(path.c_str(), mode);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s)
    c = static_cast<char>(rng());
  return s;
}

// Everything a user would compare: type, mode, contents or target, mtime.
std::map<std::string, std::string> Describe(const std::string& root, const std::string& rel = "") {
  std::map<std::string, std::string> out;
  std::string path = rel.empty() ? root : root + "/" + rel;
  struct stat st;
  if (lstat(path.c_str(), &st) < 0) return out;
  char mode[16];
  snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
  std::string key = rel.empty() ? "." : rel;
  if (S_ISDIR(st.st_mode)) {
    out[key] = std::string("dir ") + mode;
    DIR* d = opendir(path.c_str());
    while (dirent* e = d ? readdir(d) : nullptr) {
      std::string n = e->d_name;
      if (n == "." || n == "..") continue;
      auto sub = Describe(root, rel.empty() ? n : rel + "/" + n);
      out.insert(sub.begin(), sub.end());
    }
    if (d) closedir(d);
  } else if (S_ISLNK(st.st_mode)) {
    char buf[4096];
    ssize_t n = readlink(path.c_str(), buf, sizeof buf);
    out[key] = "symlink -> " + std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
  } else {
    out[key] = std::string("file ") + mode + " mtime " + std::to_string(st.st_mtim.tv_sec) + "." +
               std::to_string(st.st_mtim.tv_nsec) + " " + ReadFile(path);
  }
  return out;
}

int CountFds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (readdir(d) != nullptr)
    ++n;
  closedir(d);
  return n;
}

// Frames in flight between the two ends, with an optional hook that may
// alter what the receiver gets (a corrupted link, a malicious sender).
struct CopyRun {
  using Tamper = std::function<void(MessageType*, std::string*)>;
  Status status;
  CopyTotals totals;
  std::vector<std::string> warnings;
  uint64_t max_outstanding = 0;
};

CopyRun RunCopy(const std::vector<std::string>& sources, const std::string& dest,
                CopyRun::Tamper tamper = nullptr, CopyReceiver::Options options = {}) {
  CopyRun run;
  std::deque<std::pair<MessageType, std::string>> forward, back;
  CopySender sender(
      sources, [&](MessageType t, std::string_view p) { forward.emplace_back(t, std::string(p)); });
  CopyReceiver receiver(
      dest, sources.size(),
      [&](MessageType t, std::string_view p) { back.emplace_back(t, std::string(p)); }, options);
  run.status = sender.Start();
  if (run.status.ok()) run.status = receiver.Start();
  if (!run.status.ok()) return run;
  uint64_t outstanding = 0;
  bool finished = false;
  while (!finished) {
    run.status = sender.Pump();
    if (!run.status.ok()) return run;
    if (forward.empty() && back.empty()) {
      run.status = Status::Error("stalled: nothing in flight and no COPY_END");
      return run;
    }
    while (!forward.empty()) {
      auto [type, payload] = std::move(forward.front());
      forward.pop_front();
      outstanding += CopyFrameCost(type, payload.size());
      run.max_outstanding = std::max(run.max_outstanding, outstanding);
      if (tamper) tamper(&type, &payload);
      run.status = receiver.OnFrame(type, payload);
      if (!run.status.ok()) {
        receiver.Abort();
        return run;
      }
    }
    while (!back.empty()) {
      auto [type, payload] = std::move(back.front());
      back.pop_front();
      if (type == MessageType::kWindow) {
        uint32_t credit = *DecodeWindowPayload(payload);
        outstanding -= credit;
        sender.AddCredit(credit);
      } else if (type == MessageType::kCopyEnd) {
        finished = true;
      }
    }
  }
  run.totals = receiver.totals();
  run.warnings = receiver.warnings();
  return run;
}

// A source tree with what cp must keep: modes, an executable, an empty
// file, nesting, relative and dangling symlinks, binary data over several
// chunks and windows.
void MakeTree(const std::string& top) {
  mkdir(top.c_str(), 0750);
  WriteFile(top + "/secret.txt", "only me\n", 0600);
  WriteFile(top + "/run.sh", "#!/bin/sh\necho hi\n", 0755);
  WriteFile(top + "/empty", "", 0644);
  mkdir((top + "/sub").c_str(), 0700);
  mkdir((top + "/sub/deeper").c_str(), 0755);
  WriteFile(top + "/sub/deeper/big.bin", RandomBytes(600 * 1024 + 7, 1), 0640);
  symlink("secret.txt", (top + "/link").c_str());
  symlink("/nonexistent/target", (top + "/dangling").c_str());
  chmod(top.c_str(), 0750);
}

std::vector<std::string> Leftovers(const std::string& root) {
  std::vector<std::string> out;
  for (auto& [name, what] : Describe(root)) {
    if (name.find(".vmcat-") != std::string::npos) out.push_back(name);
  }
  return out;
}

TEST(CopyTest, TreeRoundTripKeepsEverything) {
  ScratchDir src, dst;
  MakeTree(src / "top");
  int fds = CountFds();
  CopyRun run = RunCopy({src / "top"}, dst.path());
  ASSERT_TRUE(run.status.ok()) << run.status.message();
  EXPECT_EQ(CountFds(), fds);
  EXPECT_EQ(Describe(dst / "top"), Describe(src / "top"));
  EXPECT_EQ(run.totals.files, 4u);
  EXPECT_EQ(run.totals.dirs, 3u);
  EXPECT_EQ(run.totals.symlinks, 2u);
  EXPECT_EQ(run.totals.bytes, 8u + 18 + 600 * 1024 + 7);
  EXPECT_LE(run.max_outstanding, kInitialWindow);
  EXPECT_TRUE(Leftovers(dst.path()).empty());
}

TEST(CopyTest, DestinationRules) {
  ScratchDir src, dst;
  MakeTree(src / "top");
  WriteFile(src / "one.txt", "one", 0640);
  // A new name: the tree and the file arrive renamed.
  ASSERT_TRUE(RunCopy({src / "top"}, dst / "renamed").status.ok());
  EXPECT_EQ(Describe(dst / "renamed"), Describe(src / "top"));
  ASSERT_TRUE(RunCopy({src / "one.txt"}, dst / "two.txt").status.ok());
  EXPECT_EQ(ReadFile(dst / "two.txt"), "one");
  // An existing file is replaced.
  WriteFile(src / "one.txt", "uno", 0600);
  ASSERT_TRUE(RunCopy({src / "one.txt"}, dst / "two.txt").status.ok());
  EXPECT_EQ(ReadFile(dst / "two.txt"), "uno");
  EXPECT_EQ(Describe(dst / "two.txt"), Describe(src / "one.txt"));
  // An existing directory receives them under their own names (with a
  // trailing slash too); several sources need one.
  ASSERT_TRUE(RunCopy({src / "top", src / "one.txt"}, dst.path() + "/").status.ok());
  EXPECT_EQ(Describe(dst / "top"), Describe(src / "top"));
  EXPECT_EQ(ReadFile(dst / "one.txt"), "uno");
  CopyRun several = RunCopy({src / "top", src / "one.txt"}, dst / "two.txt");
  ASSERT_FALSE(several.status.ok());
  EXPECT_EQ(several.status.sys_errno(), ENOTDIR);
  EXPECT_FALSE(RunCopy({src / "one.txt"}, dst / "nope/").status.ok());
}

TEST(CopyTest, MergesIntoAnExistingDirectory) {
  ScratchDir src, dst;
  MakeTree(src / "top");
  mkdir((dst / "top").c_str(), 0755);
  WriteFile(dst / "top/keep.txt", "mine");
  ASSERT_TRUE(RunCopy({src / "top"}, dst.path()).status.ok());
  EXPECT_EQ(ReadFile(dst / "top/keep.txt"), "mine");
  EXPECT_EQ(ReadFile(dst / "top/run.sh"), "#!/bin/sh\necho hi\n");
}

TEST(CopyTest, TypeConflictsAreErrors) {
  ScratchDir src, dst;
  WriteFile(src / "x", "file");
  mkdir((src / "d").c_str(), 0755);
  mkdir((dst / "x").c_str(), 0755);
  WriteFile(dst / "d", "a file where a directory goes");
  CopyRun file_over_dir = RunCopy({src / "x"}, dst.path());
  EXPECT_EQ(file_over_dir.status.sys_errno(), EISDIR) << file_over_dir.status.message();
  CopyRun dir_over_file = RunCopy({src / "d"}, dst.path());
  EXPECT_EQ(dir_over_file.status.sys_errno(), ENOTDIR) << dir_over_file.status.message();
  EXPECT_EQ(ReadFile(dst / "d"), "a file where a directory goes");
}

TEST(CopyTest, ChecksumMismatchIsDetectedAndLeavesNothing) {
  ScratchDir src, dst;
  WriteFile(src / "data.bin", RandomBytes(100000, 2));
  bool flipped = false;
  CopyRun run = RunCopy({src / "data.bin"}, dst.path(), [&](MessageType* t, std::string* p) {
    if (*t == MessageType::kData && !flipped) {
      (*p)[p->size() / 2] ^= 0x01;  // one bit, as a broken link would
      flipped = true;
    }
  });
  ASSERT_FALSE(run.status.ok());
  EXPECT_NE(run.status.message().find("checksum mismatch"), std::string::npos)
      << run.status.message();
  EXPECT_NE(run.status.message().find(dst / "data.bin"), std::string::npos);
  EXPECT_EQ(Describe(dst.path()).size(), 1u);  // only the directory itself
}

TEST(CopyTest, AbortRemovesTheTemporaryFileAndWhatTheCopyCreated) {
  ScratchDir src, dst;
  MakeTree(src / "top");
  WriteFile(dst / "before.txt", "untouched");
  auto before = Describe(dst.path());
  std::deque<std::pair<MessageType, std::string>> frames;
  CopySender sender({src / "top"}, [&](MessageType t, std::string_view p) {
    frames.emplace_back(t, std::string(p));
  });
  ASSERT_TRUE(sender.Start().ok());
  ASSERT_TRUE(sender.Pump().ok());  // one window's worth: big.bin is half sent
  ASSERT_FALSE(sender.done());
  {
    CopyReceiver receiver(dst.path(), 1, [](MessageType, std::string_view) {});
    ASSERT_TRUE(receiver.Start().ok());
    for (auto& [t, p] : frames)
      ASSERT_TRUE(receiver.OnFrame(t, p).ok());
    // Mid-file: the temporary file exists, the tree is partly there.
    EXPECT_EQ(Leftovers(dst.path()).size(), 1u);
    EXPECT_TRUE(Describe(dst.path()).count("top/secret.txt"));
    receiver.Abort();
    EXPECT_EQ(Describe(dst.path()), before);
    receiver.Abort();  // idempotent
  }
  {
    // The other side vanishing is the same: destruction undoes it.
    CopyReceiver receiver(dst.path(), 1, [](MessageType, std::string_view) {});
    ASSERT_TRUE(receiver.Start().ok());
    for (auto& [t, p] : frames)
      ASSERT_TRUE(receiver.OnFrame(t, p).ok());
  }
  EXPECT_EQ(Describe(dst.path()), before);
}

TEST(CopyTest, SenderStopsAtTheWindowUntilCredited) {
  ScratchDir src;
  WriteFile(src / "big", RandomBytes(kInitialWindow * 3, 3));
  uint64_t sent = 0;
  CopySender sender({src / "big"},
                    [&](MessageType t, std::string_view p) { sent += CopyFrameCost(t, p.size()); });
  ASSERT_TRUE(sender.Start().ok());
  ASSERT_TRUE(sender.Pump().ok());
  EXPECT_LE(sent, kInitialWindow);
  EXPECT_GT(sent, kInitialWindow - kMaxDataChunk);
  ASSERT_TRUE(sender.Pump().ok());  // no credit: nothing more
  EXPECT_LE(sent, kInitialWindow);
  sender.AddCredit(100000);
  ASSERT_TRUE(sender.Pump().ok());
  EXPECT_LE(sent, kInitialWindow + 100000);
  EXPECT_GT(sent, kInitialWindow);
  EXPECT_FALSE(sender.done());
}

// Frames a malicious or broken sender could send.
Status Feed(CopyReceiver* r, const std::vector<std::pair<MessageType, std::string>>& frames) {
  for (auto& [t, p] : frames)
    VMCAT_RETURN_IF_ERROR(r->OnFrame(t, p));
  return Status::Ok();
}

std::string Entry(const std::string& name, const std::string& type, uint64_t size = 0,
                  const std::string& target = "") {
  Json j = {{"name", name}, {"type", type}, {"mode", 0644}};
  if (type == "file") j["size"] = size;
  if (type == "symlink") j["target"] = target;
  return j.dump();
}

TEST(CopyTest, TraversalAttemptsWriteNothingOutside) {
  ScratchDir outer;
  std::string dest = outer / "dest";
  mkdir(dest.c_str(), 0755);
  mkdir((outer / "etc").c_str(), 0755);
  auto before = Describe(outer.path());
  const std::string sha = Json{{"sha256", std::string(64, '0')}}.dump();
  std::vector<std::vector<std::pair<MessageType, std::string>>> attacks = {
      {{MessageType::kEntry, Entry("../evil", "file", 1)}},
      {{MessageType::kEntry, Entry("/tmp/evil", "file", 1)}},
      {{MessageType::kEntry, Entry("top", "dir")},
       {MessageType::kEntry, Entry("top/../../x", "dir")}},
      // A link out of the destination, then a write through it.
      {{MessageType::kEntry, Entry("top", "dir")},
       {MessageType::kEntry, Entry("top/l", "symlink", 0, outer / "etc")},
       {MessageType::kEntry, Entry("top/l/passwd", "file", 1)},
       {MessageType::kData, "x"}},
      {{MessageType::kEntry, Entry("top", "dir")},
       {MessageType::kEntry, Entry("top/l", "symlink", 0, outer / "etc")},
       {MessageType::kEntry, Entry("top/l", "dir")},
       {MessageType::kEntry, Entry("top/l/passwd", "file", 1)}},
  };
  for (auto& frames : attacks) {
    CopyReceiver r(dest, 1, [](MessageType, std::string_view) {});
    ASSERT_TRUE(r.Start().ok());
    Status s = Feed(&r, frames);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.sys_errno(), EPROTO) << s.message();
    r.Abort();
    EXPECT_EQ(Describe(outer.path()), before);
  }
}

TEST(CopyTest, OnlyTheNamesAskedForAreAccepted) {
  ScratchDir dst;
  CopyReceiver::Options options;
  options.expected_names = {"x"};
  CopyReceiver r(
      dst.path(), 1, [](MessageType, std::string_view) {}, options);
  ASSERT_TRUE(r.Start().ok());
  Status s = Feed(&r, {{MessageType::kEntry, Entry(".bashrc", "file", 1)}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.sys_errno(), EPROTO);
  EXPECT_NE(s.message().find("not asked for"), std::string::npos) << s.message();
  r.Abort();
  EXPECT_EQ(Describe(dst.path()).size(), 1u);
  CopyReceiver ok(
      dst.path(), 1, [](MessageType, std::string_view) {}, options);
  ASSERT_TRUE(ok.Start().ok());
  EXPECT_TRUE(Feed(&ok, {{MessageType::kEntry, Entry("x", "dir")},
                         {MessageType::kEntry, Entry("x/anything", "dir")}})
                  .ok());
}

TEST(CopyTest, RenamingCopyTakesOneTopLevelEntryOnly) {
  ScratchDir dst;
  CopyReceiver r(dst / "new", 1, [](MessageType, std::string_view) {});
  ASSERT_TRUE(r.Start().ok());
  ASSERT_TRUE(Feed(&r, {{MessageType::kEntry, Entry("a", "dir")}}).ok());
  EXPECT_FALSE(Feed(&r, {{MessageType::kEntry, Entry("b", "dir")}}).ok());
  r.Abort();
  EXPECT_EQ(Describe(dst.path()).size(), 1u);
}

TEST(CopyTest, MissingSourceAndMissingDestinationAreNamed) {
  ScratchDir src, dst;
  CopySender sender({src / "nope"}, [](MessageType, std::string_view) {});
  Status s = sender.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), src / "nope" + ": No such file or directory");
  CopyReceiver receiver(dst / "no/such/dir", 1, [](MessageType, std::string_view) {});
  Status r = receiver.Start();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), dst / "no/such" + ": No such file or directory");
}

TEST(CopyTest, SpecialFilesAreSkippedInATreeAndRefusedOnTop) {
  ScratchDir src, dst;
  mkdir((src / "top").c_str(), 0755);
  WriteFile(src / "top/f", "f");
  ASSERT_EQ(mkfifo((src / "top/pipe").c_str(), 0644), 0);
  CopyRun run = RunCopy({src / "top"}, dst.path());
  ASSERT_TRUE(run.status.ok()) << run.status.message();
  ASSERT_EQ(run.warnings.size(), 1u);
  EXPECT_EQ(run.warnings[0],
            src / "top/pipe" + ": skipped a FIFO (only files, directories and symlinks)");
  EXPECT_EQ(ReadFile(dst / "top/f"), "f");
  EXPECT_FALSE(Describe(dst.path()).count("top/pipe"));
  CopySender sender({src / "top/pipe"}, [](MessageType, std::string_view) {});
  EXPECT_FALSE(sender.Start().ok());
}

TEST(CopyTest, SetIdBitsOnlyWhenAllowed) {
  ScratchDir src, dst;
  WriteFile(src / "tool", "#!/bin/sh\n", 04755);
  struct stat st;
  ASSERT_EQ(stat((src / "tool").c_str(), &st), 0);
  if ((st.st_mode & 04000) == 0) GTEST_SKIP() << "cannot make a setuid file here";
  ASSERT_TRUE(RunCopy({src / "tool"}, dst / "stripped").status.ok());
  ASSERT_EQ(stat((dst / "stripped").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  CopyReceiver::Options keep;
  keep.keep_setid = true;
  ASSERT_TRUE(RunCopy({src / "tool"}, dst / "kept", nullptr, keep).status.ok());
  ASSERT_EQ(stat((dst / "kept").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
}

TEST(CopyTest, ManyEmptyFilesArePacedByTheWindowToo) {
  ScratchDir src, dst;
  mkdir((src / "many").c_str(), 0755);
  for (int i = 0; i < 3000; ++i)
    WriteFile(src / ("many/f" + std::to_string(i)), "");
  CopyRun run = RunCopy({src / "many"}, dst.path());
  ASSERT_TRUE(run.status.ok()) << run.status.message();
  EXPECT_EQ(run.totals.files, 3000u);
  EXPECT_LE(run.max_outstanding, kInitialWindow);
}

}  // namespace
}  // namespace vmcat
