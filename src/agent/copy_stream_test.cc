#include "agent/copy_stream.h"

#include <gtest/gtest.h>

#include "base/strings.h"

namespace vmcat {
namespace {

std::string EntryPayload(const std::string& name, const std::string& type, uint64_t size = 0,
                         const std::string& target = "") {
  CopyEntry e;
  e.name = name;
  e.type = type == "dir"       ? EntryType::kDir
           : type == "symlink" ? EntryType::kSymlink
                               : EntryType::kFile;
  e.mode = 0644;
  e.size = size;
  e.target = target;
  return e.ToJson().dump();
}

const std::string kSha(64, 'a');
std::string EndPayload(const std::string& sha = kSha) {
  return Json{{"sha256", sha}}.dump();
}

TEST(CopyEntryTest, JsonRoundTrip) {
  CopyEntry e;
  e.name = "top/sub/file.txt";
  e.type = EntryType::kFile;
  e.mode = 0750;
  e.size = 12345678901;
  e.mtime = 1700000000;
  e.mtime_nsec = 123456789;
  auto back = CopyEntry::FromJson(e.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->name, e.name);
  EXPECT_EQ(back->type, EntryType::kFile);
  EXPECT_EQ(back->mode, 0750u);
  EXPECT_EQ(back->size, 12345678901u);
  EXPECT_EQ(back->mtime, 1700000000);
  EXPECT_EQ(back->mtime_nsec, 123456789u);

  CopyEntry link;
  link.name = "top/link";
  link.type = EntryType::kSymlink;
  link.mode = 0777;
  link.target = "../elsewhere/x";  // targets are data, never followed
  auto l = CopyEntry::FromJson(link.ToJson());
  ASSERT_TRUE(l.ok()) << l.status().message();
  EXPECT_EQ(l->type, EntryType::kSymlink);
  EXPECT_EQ(l->target, "../elsewhere/x");
}

TEST(CopyEntryTest, RejectsMalformedFields) {
  Json base = {{"name", "a"}, {"type", "file"}, {"mode", 0644}, {"size", 3}};
  EXPECT_TRUE(CopyEntry::FromJson(base).ok());
  for (auto [key, value] : std::vector<std::pair<std::string, Json>>{
           {"name", 7},
           {"name", "/etc/passwd"},
           {"type", "fifo"},
           {"type", 1},
           {"mode", 010000},
           {"mode", -1},
           {"mode", "0644"},
           {"size", -5},
           {"size", "big"},
           {"target", "x"},  // only symlinks have targets
           {"mtime", "yesterday"},
           {"mtime_nsec", 1000000000},
       }) {
    Json j = base;
    j[key] = value;
    EXPECT_FALSE(CopyEntry::FromJson(j).ok()) << key << "=" << value.dump();
  }
  Json dir = {{"name", "d"}, {"type", "dir"}, {"mode", 0755}, {"size", 1}};
  EXPECT_FALSE(CopyEntry::FromJson(dir).ok());  // a directory has no size
  Json link = {{"name", "l"}, {"type", "symlink"}, {"mode", 0777}};
  EXPECT_FALSE(CopyEntry::FromJson(link).ok());  // nor a symlink no target
}

TEST(EntryNameTest, AcceptsPlainRelativeNames) {
  for (const char* ok : {"a", "a/b", "a/b/c.txt", ".hidden", "a/..b", "a/b..", "...", "a b/c d"}) {
    EXPECT_TRUE(ValidateEntryName(ok).ok()) << ok;
  }
}

TEST(EntryNameTest, RejectsTraversalAndAmbiguity) {
  for (const char* bad : {"", "/", "/etc/passwd", "..", "../x", "a/../../x", "a/..", ".", "./a",
                          "a/./b", "a//b", "a/", "//a"}) {
    Status s = ValidateEntryName(bad);
    EXPECT_FALSE(s.ok()) << Quote(bad);
  }
  EXPECT_FALSE(ValidateEntryName(std::string("a\0b", 3)).ok());
  EXPECT_FALSE(ValidateEntryName(std::string(256, 'x')).ok());
  EXPECT_TRUE(ValidateEntryName(std::string(255, 'x')).ok());
  std::string deep;
  for (int i = 0; i < 2100; ++i)
    deep += "ab/";
  deep += "c";
  EXPECT_FALSE(ValidateEntryName(deep).ok());
}

TEST(CopyStreamReaderTest, AcceptsAWellFormedTree) {
  CopyStreamReader r;
  auto e1 = r.Next(MessageType::kEntry, EntryPayload("top", "dir"));
  ASSERT_TRUE(e1.ok()) << e1.status().message();
  EXPECT_EQ(e1->kind, CopyStreamReader::Event::Kind::kEntry);
  ASSERT_TRUE(r.Next(MessageType::kEntry, EntryPayload("top/f", "file", 5)).ok());
  ASSERT_NE(r.current_file(), nullptr);
  auto d1 = r.Next(MessageType::kData, "abc");
  ASSERT_TRUE(d1.ok());
  EXPECT_EQ(d1->data, "abc");
  ASSERT_TRUE(r.Next(MessageType::kData, "de").ok());
  auto end = r.Next(MessageType::kEntryEnd, EndPayload());
  ASSERT_TRUE(end.ok()) << end.status().message();
  EXPECT_EQ(end->sha256, kSha);
  EXPECT_EQ(end->entry.name, "top/f");
  EXPECT_EQ(r.current_file(), nullptr);
  ASSERT_TRUE(r.Next(MessageType::kEntry, EntryPayload("top/sub", "dir")).ok());
  ASSERT_TRUE(r.Next(MessageType::kEntry, EntryPayload("top/sub/empty", "file", 0)).ok());
  ASSERT_TRUE(r.Next(MessageType::kEntryEnd, EndPayload()).ok());
  ASSERT_TRUE(r.Next(MessageType::kEntry, EntryPayload("top/sub/l", "symlink", 0, "/x")).ok());
  auto done = r.Next(MessageType::kCopyEnd, R"({"warnings": ["/x/fifo: skipped a FIFO"]})");
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->kind, CopyStreamReader::Event::Kind::kEnd);
  EXPECT_EQ(done->warnings, std::vector<std::string>{"/x/fifo: skipped a FIFO"});
  EXPECT_TRUE(r.done());
  EXPECT_FALSE(r.Next(MessageType::kEntry, EntryPayload("late", "dir")).ok());
}

TEST(CopyStreamReaderTest, RejectsBrokenGrammar) {
  {
    CopyStreamReader r;
    EXPECT_FALSE(r.Next(MessageType::kData, "x").ok());  // outside a file
  }
  {
    CopyStreamReader r;
    EXPECT_FALSE(r.Next(MessageType::kEntryEnd, EndPayload()).ok());
  }
  {
    CopyStreamReader r;
    ASSERT_TRUE(r.Next(MessageType::kEntry, EntryPayload("f", "file", 2)).ok());
    EXPECT_FALSE(r.Next(MessageType::kData, "abc").ok());  // more than announced
  }
  {
    CopyStreamReader r;
    ASSERT_TRUE(r.Next(MessageType::kEntry, EntryPayload("f", "file", 4)).ok());
    ASSERT_TRUE(r.Next(MessageType::kData, "abc").ok());
    EXPECT_FALSE(r.Next(MessageType::kEntryEnd, EndPayload()).ok());  // short
  }
  {
    CopyStreamReader r;
    ASSERT_TRUE(r.Next(MessageType::kEntry, EntryPayload("f", "file", 0)).ok());
    EXPECT_FALSE(r.Next(MessageType::kEntry, EntryPayload("g", "file", 0)).ok());
  }
  {
    CopyStreamReader r;
    ASSERT_TRUE(r.Next(MessageType::kEntry, EntryPayload("f", "file", 0)).ok());
    EXPECT_FALSE(r.Next(MessageType::kCopyEnd, "").ok());
  }
  for (const std::string& sha :
       {std::string(63, 'a'), std::string(64, 'A'), std::string(64, 'g')}) {
    CopyStreamReader r;
    ASSERT_TRUE(r.Next(MessageType::kEntry, EntryPayload("f", "file", 0)).ok());
    EXPECT_FALSE(r.Next(MessageType::kEntryEnd, EndPayload(sha)).ok()) << sha;
  }
  {
    CopyStreamReader r;
    EXPECT_FALSE(r.Next(MessageType::kEntry, "not json").ok());
    EXPECT_FALSE(r.Next(MessageType::kStdout, "x").ok());
  }
}

TEST(CopyStreamReaderTest, EntriesNeedTheirDirectoryFirst) {
  CopyStreamReader r;
  // No "a" yet.
  EXPECT_FALSE(r.Next(MessageType::kEntry, EntryPayload("a/b", "dir")).ok());
  CopyStreamReader r2;
  ASSERT_TRUE(r2.Next(MessageType::kEntry, EntryPayload("a", "file", 0)).ok());
  ASSERT_TRUE(r2.Next(MessageType::kEntryEnd, EndPayload()).ok());
  EXPECT_FALSE(r2.Next(MessageType::kEntry, EntryPayload("a/b", "file", 0)).ok());
}

TEST(CopyStreamReaderTest, SymlinkCannotBecomeADirectoryLater) {
  // The classic escape: a link to /etc, then a "directory" of the same name
  // through which files would land in /etc.
  CopyStreamReader r;
  ASSERT_TRUE(r.Next(MessageType::kEntry, EntryPayload("top", "dir")).ok());
  ASSERT_TRUE(r.Next(MessageType::kEntry, EntryPayload("top/x", "symlink", 0, "/etc")).ok());
  EXPECT_FALSE(r.Next(MessageType::kEntry, EntryPayload("top/x", "dir")).ok());
  CopyStreamReader r2;
  ASSERT_TRUE(r2.Next(MessageType::kEntry, EntryPayload("top", "dir")).ok());
  ASSERT_TRUE(r2.Next(MessageType::kEntry, EntryPayload("top/x", "symlink", 0, "/etc")).ok());
  EXPECT_FALSE(r2.Next(MessageType::kEntry, EntryPayload("top/x/passwd", "file", 1)).ok());
}

TEST(CopyFrameCostTest, MetadataCountsToo) {
  EXPECT_EQ(CopyFrameCost(MessageType::kData, 32768), 32768u);
  EXPECT_EQ(CopyFrameCost(MessageType::kEntry, 120), 120u);
  EXPECT_EQ(CopyFrameCost(MessageType::kEntryEnd, 80), 80u);
  EXPECT_EQ(CopyFrameCost(MessageType::kCopyEnd, 80), 0u);
  EXPECT_EQ(CopyFrameCost(MessageType::kWindow, 4), 0u);
}

TEST(PlacementTest, IntoAnExistingDirectory) {
  auto p = Placement::Resolve("/tmp/dir/", DestState{true, true}, 3);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_TRUE(p->into_dir());
  EXPECT_EQ(p->parent(), "/tmp/dir");
  EXPECT_EQ(*p->PathFor("a.txt"), "/tmp/dir/a.txt");
  EXPECT_EQ(*p->PathFor("tree/sub/b"), "/tmp/dir/tree/sub/b");
  EXPECT_EQ(*p->PathFor("other"), "/tmp/dir/other");
  auto root = Placement::Resolve("/", DestState{true, true}, 1);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(*root->PathFor("x"), "/x");
}

TEST(PlacementTest, NewNameForASingleSource) {
  auto p = Placement::Resolve("/tmp/new", DestState{false, false}, 1);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_FALSE(p->into_dir());
  EXPECT_EQ(p->parent(), "/tmp");
  EXPECT_EQ(*p->PathFor("tree"), "/tmp/new");
  EXPECT_EQ(*p->PathFor("tree/sub/b"), "/tmp/new/sub/b");
  // A second top-level entry has nowhere to go.
  auto second = p->PathFor("other/x");
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("Not a directory"), std::string::npos);

  // An existing file is replaced by a file of the new name.
  auto file = Placement::Resolve("rel.txt", DestState{true, false}, 1);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->parent(), ".");
  EXPECT_EQ(*file->PathFor("src.txt"), "rel.txt");
}

TEST(PlacementTest, SeveralSourcesNeedADirectory) {
  auto missing = Placement::Resolve("/tmp/nope", DestState{false, false}, 2);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().sys_errno(), ENOENT);
  EXPECT_NE(missing.status().message().find("/tmp/nope: No such file or directory"),
            std::string::npos);
  auto file = Placement::Resolve("/tmp/file", DestState{true, false}, 2);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().sys_errno(), ENOTDIR);
}

TEST(PlacementTest, TrailingSlashMeansAnExistingDirectory) {
  EXPECT_FALSE(Placement::Resolve("/tmp/nope/", DestState{false, false}, 1).ok());
  EXPECT_FALSE(Placement::Resolve("/tmp/file/", DestState{true, false}, 1).ok());
  EXPECT_FALSE(Placement::Resolve("", DestState{}, 1).ok());
}

TEST(PathTest, BaseAndDirName) {
  EXPECT_EQ(BaseName("/a/b"), "b");
  EXPECT_EQ(BaseName("/a/b//"), "b");
  EXPECT_EQ(BaseName("b"), "b");
  EXPECT_EQ(BaseName("/"), "");
  EXPECT_EQ(DirName("/a/b"), "/a");
  EXPECT_EQ(DirName("/a//b/"), "/a");
  EXPECT_EQ(DirName("/a"), "/");
  EXPECT_EQ(DirName("a"), ".");
  EXPECT_EQ(DirName("a/b"), "a");
  EXPECT_EQ(JoinPath("/", "x"), "/x");
  EXPECT_EQ(JoinPath("/d/", "x"), "/d/x");
  EXPECT_EQ(JoinPath("d", "x/y"), "d/x/y");
}

}  // namespace
}  // namespace vmcat
