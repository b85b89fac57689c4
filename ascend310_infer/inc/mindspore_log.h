/**
 * mindzoo ascend310_infer: reading what MindSpore says on stderr.
 *
 * MindSpore (and MindSpore Lite's converter) report why a call failed only in their log (glog, on stderr):
 * the Status they return says "Common error code." at best. The backend and the converter tool capture the
 * log around the call and turn it into one line.
 *
 * Header-only so that each user compiles it with its own _GLIBCXX_USE_CXX11_ABI (both are built with 0).
 */
#ifndef MINDZOO_ASCEND310_INFER_INC_MINDSPORE_LOG_H_
#define MINDZOO_ASCEND310_INFER_INC_MINDSPORE_LOG_H_

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

namespace mindzoo {

/** Redirects file descriptor 2 to a temporary file between Start and Stop; Stop returns what was written. */
class StderrCapture {
 public:
  ~StderrCapture() { Stop(); }
  void Start() {
    std::fflush(stderr);
    file_ = std::tmpfile();
    saved_ = file_ ? dup(STDERR_FILENO) : -1;
    if (saved_ < 0 || dup2(fileno(file_), STDERR_FILENO) < 0) Release();
  }
  std::string Stop() {
    std::string text;
    if (file_ == nullptr) return text;
    std::fflush(stderr);
    dup2(saved_, STDERR_FILENO);
    std::rewind(file_);
    char buffer[4096];
    size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof(buffer), file_)) > 0) text.append(buffer, n);
    Release();
    return text;
  }

 private:
  void Release() {
    if (saved_ >= 0) close(saved_);
    if (file_ != nullptr) std::fclose(file_);
    saved_ = -1;
    file_ = nullptr;
  }
  std::FILE *file_ = nullptr;
  int saved_ = -1;
};

/** The messages of a MindSpore log's "[ERROR]" lines, in order, without their
 * "[ERROR] MODULE(pid,...) [file:line] Function] " prefix. */
inline std::vector<std::string> LoggedErrors(const std::string &log) {
  std::vector<std::string> errors;
  size_t start = 0;
  while (start < log.size()) {
    size_t end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    const std::string line = log.substr(start, end - start);
    if (line.rfind("[ERROR]", 0) == 0) {
      size_t message = line.find("] ", line.find("] ") + 2);  // after "[file:line] "
      if (message != std::string::npos) {
        message += 2;
        const size_t function_end = line.find("] ", message);  // "Function] ", a single word
        if (function_end != std::string::npos && line.find(' ', message) > function_end) message = function_end + 2;
      }
      errors.push_back(message == std::string::npos ? line : line.substr(message));
    }
    start = end + 1;
  }
  return errors;
}

/** The message of the last "[ERROR]" line of a MindSpore log ("" if none). */
inline std::string LastLoggedError(const std::string &log) {
  const std::vector<std::string> errors = LoggedErrors(log);
  return errors.empty() ? std::string() : errors.back();
}

}  // namespace mindzoo

#endif  // MINDZOO_ASCEND310_INFER_INC_MINDSPORE_LOG_H_
