// LineEditor: a small readline for raw-mode byte streams. Pure: feed it the
// bytes a terminal sends, get back what to echo and the lines completed.
//
// Keys: printable characters insert at the cursor; Backspace, Delete,
// Left/Right, Home/End (also Ctrl-A/Ctrl-E), Ctrl-U and Ctrl-K (kill to start
// or end), Ctrl-W (kill word), Up/Down (history), Enter (CR, LF or CRLF),
// Ctrl-C (abandon the line), Ctrl-D (end of input on an empty line, delete
// otherwise). The echo redraws the line with plain VT100 sequences.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace vmcat {

class LineEditor {
 public:
  explicit LineEditor(std::string prompt, size_t max_history = 200)
      : prompt_(std::move(prompt)), max_history_(max_history) {}

  struct Output {
    std::string echo;                // bytes to send back to the terminal
    std::vector<std::string> lines;  // completed lines, in order
    bool eof = false;                // Ctrl-D on an empty line
  };

  /// Processes input bytes; appends to `out`. Once EOF was seen, further
  /// input is ignored.
  void Feed(std::string_view bytes, Output* out);

  /// The prompt followed by the current line (to redraw after other output).
  std::string Redraw() const;
  const std::string& prompt() const { return prompt_; }
  const std::string& line() const { return line_; }
  size_t cursor() const { return cursor_; }
  const std::deque<std::string>& history() const { return history_; }
  /// Shares history between sessions: the caller keeps it alive.
  void set_history(std::deque<std::string>* shared) { shared_history_ = shared; }

 private:
  enum class Escape { kNone, kEsc, kCsi, kSs3 };
  void Key(char c, Output* out);
  void CsiFinal(char c, Output* out);
  void Submit(Output* out);
  void Refresh(Output* out);
  void Recall(int direction, Output* out);
  std::deque<std::string>& Hist() { return shared_history_ ? *shared_history_ : history_; }

  std::string prompt_;
  size_t max_history_;
  std::string line_;
  size_t cursor_ = 0;
  std::deque<std::string> history_;
  std::deque<std::string>* shared_history_ = nullptr;
  bool browsing_ = false;  // Up was pressed: showing history_[history_pos_]
  size_t history_pos_ = 0;
  std::string saved_line_;  // the new line while browsing history
  Escape escape_ = Escape::kNone;
  std::string csi_params_;
  bool last_was_cr_ = false;
  bool eof_ = false;
};

}  // namespace vmcat
