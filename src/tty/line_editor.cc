#include "tty/line_editor.h"

namespace vmcat {

std::string LineEditor::Redraw() const {
  return prompt_ + line_;
}

void LineEditor::Refresh(Output* out) {
  out->echo += "\r" + prompt_ + line_ + "\x1b[K";
  size_t back = line_.size() - cursor_;
  if (back > 0) out->echo += "\x1b[" + std::to_string(back) + "D";
}

void LineEditor::Submit(Output* out) {
  out->echo += "\r\n";
  std::deque<std::string>& h = Hist();
  if (!line_.empty() && (h.empty() || h.back() != line_)) {
    h.push_back(line_);
    while (h.size() > max_history_)
      h.pop_front();
  }
  out->lines.push_back(std::move(line_));
  line_.clear();
  cursor_ = 0;
  browsing_ = false;
  saved_line_.clear();
}

void LineEditor::Recall(int direction, Output* out) {
  std::deque<std::string>& h = Hist();
  if (direction < 0) {
    if (!browsing_) {
      saved_line_ = line_;
      history_pos_ = h.size();
      browsing_ = true;
    }
    if (history_pos_ == 0 || history_pos_ > h.size()) return;
    history_pos_--;
    line_ = h[history_pos_];
  } else {
    if (!browsing_) return;
    history_pos_++;
    if (history_pos_ >= h.size()) {
      line_ = saved_line_;
      browsing_ = false;
    } else {
      line_ = h[history_pos_];
    }
  }
  cursor_ = line_.size();
  Refresh(out);
}

void LineEditor::CsiFinal(char c, Output* out) {
  std::string params = std::move(csi_params_);
  csi_params_.clear();
  switch (c) {
    case 'A':
      Recall(-1, out);
      break;
    case 'B':
      Recall(+1, out);
      break;
    case 'C':
      if (cursor_ < line_.size()) {
        cursor_++;
        out->echo += "\x1b[C";
      }
      break;
    case 'D':
      if (cursor_ > 0) {
        cursor_--;
        out->echo += "\x1b[D";
      }
      break;
    case 'H':
      cursor_ = 0;
      Refresh(out);
      break;
    case 'F':
      cursor_ = line_.size();
      Refresh(out);
      break;
    case '~':
      if (params == "3" && cursor_ < line_.size()) {  // Delete
        line_.erase(cursor_, 1);
        Refresh(out);
      } else if (params == "1" || params == "7") {
        cursor_ = 0;
        Refresh(out);
      } else if (params == "4" || params == "8") {
        cursor_ = line_.size();
        Refresh(out);
      }
      break;
    default:
      break;  // ignore unknown sequences rather than inserting them
  }
}

void LineEditor::Key(char c, Output* out) {
  unsigned char u = static_cast<unsigned char>(c);
  switch (escape_) {
    case Escape::kEsc:
      escape_ = c == '[' ? Escape::kCsi : c == 'O' ? Escape::kSs3 : Escape::kNone;
      return;
    case Escape::kSs3:
      escape_ = Escape::kNone;
      CsiFinal(c, out);
      return;
    case Escape::kCsi:
      if ((u >= '0' && u <= '9') || c == ';') {
        csi_params_ += c;
      } else {
        escape_ = Escape::kNone;
        CsiFinal(c, out);
      }
      return;
    case Escape::kNone:
      break;
  }
  bool was_cr = last_was_cr_;
  last_was_cr_ = c == '\r';
  switch (u) {
    case 0x1b:
      escape_ = Escape::kEsc;
      return;
    case '\r':
      Submit(out);
      return;
    case '\n':
      if (!was_cr) Submit(out);  // CRLF is one Enter
      return;
    case 0x01:
      cursor_ = 0;
      Refresh(out);
      return;  // Ctrl-A
    case 0x05:
      cursor_ = line_.size();
      Refresh(out);
      return;  // Ctrl-E
    case 0x02:
      CsiFinal('D', out);
      return;  // Ctrl-B
    case 0x06:
      CsiFinal('C', out);
      return;  // Ctrl-F
    case 0x10:
      Recall(-1, out);
      return;  // Ctrl-P
    case 0x0e:
      Recall(+1, out);
      return;   // Ctrl-N
    case 0x03:  // Ctrl-C
      out->echo += "^C\r\n";
      line_.clear();
      cursor_ = 0;
      out->echo += prompt_;
      return;
    case 0x04:  // Ctrl-D
      if (line_.empty()) {
        eof_ = true;
        out->eof = true;
        out->echo += "\r\n";
      } else if (cursor_ < line_.size()) {
        line_.erase(cursor_, 1);
        Refresh(out);
      }
      return;
    case 0x7f:
    case 0x08:  // Backspace
      if (cursor_ > 0) {
        line_.erase(--cursor_, 1);
        Refresh(out);
      }
      return;
    case 0x15:  // Ctrl-U
      line_.erase(0, cursor_);
      cursor_ = 0;
      Refresh(out);
      return;
    case 0x0b:  // Ctrl-K
      line_.erase(cursor_);
      Refresh(out);
      return;
    case 0x17: {  // Ctrl-W
      size_t start = cursor_;
      while (start > 0 && line_[start - 1] == ' ')
        start--;
      while (start > 0 && line_[start - 1] != ' ')
        start--;
      line_.erase(start, cursor_ - start);
      cursor_ = start;
      Refresh(out);
      return;
    }
    case 0x0c:
      out->echo += "\x1b[H\x1b[2J";
      Refresh(out);
      return;  // Ctrl-L
    default:
      break;
  }
  if (u < 0x20) return;  // other control characters are ignored
  line_.insert(cursor_, 1, c);
  cursor_++;
  if (cursor_ == line_.size()) {
    out->echo += c;  // typing at the end: plain echo, no redraw
  } else {
    Refresh(out);
  }
}

void LineEditor::Feed(std::string_view bytes, Output* out) {
  for (char c : bytes) {
    if (eof_) return;
    Key(c, out);
  }
}

}  // namespace vmcat
