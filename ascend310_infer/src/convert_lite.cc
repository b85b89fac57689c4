/**
 * mindzoo ascend310_infer: convert_lite, an ONNX model -> MindSpore Lite model (MINDIR for MindSpore's C++ API).
 *
 *   convert_lite --onnx MODEL.onnx --output MODEL_lite.mindir
 *
 * Runs MindSpore Lite's converter library (libmindspore_converter.so of the mindspore-lite wheel, class
 * mindspore::Converter) on the ONNX file and writes the converted model to exactly --output (SetSaveType(kMindIR):
 * the model MindSpore Lite's Model::Build(path, kMindIR, context) reads). export.py --file_format=MINDIR_LITE calls
 * it on its verified ONNX export; the route is ONNX -> Lite because this converter refuses MindSpore 2.10 MINDIR
 * input.
 *
 * The wheel ships no include/converter.h, so the class is declared here in its dual-ABI form (std::vector<char>
 * for strings), which is what the library exports; compiled with _GLIBCXX_USE_CXX11_ABI=0 like the library.
 * The converter says why it refused a model only in its log (stderr): that log is captured, kept on stdout, and
 * its errors (which name the ONNX node and op) become the one-line error.
 *
 * Exit codes: 0 converted, 1 the converter refused the model, 2 bad usage or a missing input file.
 */
#include <cstdio>
#include <iostream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "include/api/status.h"
#include "include/api/types.h"
#include "include/registry/converter_context.h"

#include "exit_status.h"
#include "mindspore_log.h"

namespace mindspore {
struct ConverterPara;

// The subset of MindSpore Lite 2.0's mindspore::Converter (include/converter.h, not in the wheel) that we call.
class Converter {
 public:
  Converter(converter::FmkType fmk_type, const std::vector<char> &model_file, const std::vector<char> &output_file,
            const std::vector<char> &weight_file);
  ~Converter() = default;
  void SetSaveType(ModelType save_type);
  Status Convert();

 private:
  std::shared_ptr<ConverterPara> data_;
  char reserved_[64] = {};  // room in case the library's object is larger than its one declared member
};
}  // namespace mindspore

namespace {

constexpr int kExitRefused = mindzoo::kExitFailure;
using mindzoo::kExitUsage;
constexpr size_t kMaxReasons = 3;

std::vector<char> Chars(const std::string &text) { return std::vector<char>(text.begin(), text.end()); }

int Fail(int code, const std::string &message) { return mindzoo::Fail(code, message, "convert_lite: "); }

bool FileExists(const std::string &path) {
  std::FILE *file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return false;
  std::fclose(file);
  return true;
}

// Why the converter refused: "at op OP: REASON" when it names the node it could not parse (its first error is
// the op parser's reason), else its first distinct errors joined.
std::string Reasons(const std::string &log) {
  const std::vector<std::string> errors = mindzoo::LoggedErrors(log);
  static const std::regex kParseNode("^parse node (\\S+) failed");
  std::smatch match;
  for (size_t i = 0; i < errors.size(); ++i) {
    if (std::regex_search(errors[i], match, kParseNode)) {
      return "at op " + match[1].str() + ": " + (i > 0 ? errors[0] : errors[i]);
    }
  }
  std::vector<std::string> distinct;
  for (const std::string &error : errors) {
    bool seen = false;
    for (const std::string &kept : distinct) seen = seen || kept == error;
    if (!seen && distinct.size() < kMaxReasons) distinct.push_back(error);
  }
  std::string joined;
  for (const std::string &error : distinct) joined += (joined.empty() ? "" : " | ") + error;
  return joined;
}

}  // namespace

int main(int argc, char **argv) {
  std::string onnx;
  std::string output;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if ((flag == "--onnx" || flag == "--output") && i + 1 < argc) {
      (flag == "--onnx" ? onnx : output) = argv[++i];
    } else if (flag == "--help" || flag == "-h") {
      std::cout << "usage: " << argv[0] << " --onnx MODEL.onnx --output MODEL_lite.mindir" << std::endl;
      return 0;
    } else {
      return Fail(kExitUsage, "unknown or incomplete argument '" + flag + "' (usage: --onnx IN --output OUT)");
    }
  }
  if (onnx.empty() || output.empty()) return Fail(kExitUsage, "--onnx and --output are required");
  if (!FileExists(onnx)) return Fail(kExitUsage, "ONNX model not found: " + onnx);

  // The converter appends ".mindir" to the name it is given: give it the name without that suffix.
  const std::string suffix = ".mindir";
  const bool has_suffix = output.size() > suffix.size() &&
                          output.compare(output.size() - suffix.size(), suffix.size(), suffix) == 0;
  const std::string stem = has_suffix ? output.substr(0, output.size() - suffix.size()) : output;
  std::remove((stem + suffix).c_str());

  mindzoo::StderrCapture capture;
  capture.Start();
  std::string status_text;
  try {
    mindspore::Converter converter(mindspore::converter::kFmkTypeOnnx, Chars(onnx), Chars(stem), Chars(""));
    converter.SetSaveType(mindspore::ModelType::kMindIR);
    const mindspore::Status status = converter.Convert();
    if (status != mindspore::kSuccess) status_text = status.ToString();
  } catch (const std::exception &e) {
    status_text = std::string("exception: ") + e.what();
  }
  const std::string log = capture.Stop();
  if (!log.empty()) {
    std::cout << "MindSpore Lite converter log:\n" << log << (log.back() == '\n' ? "" : "\n") << std::flush;
  }
  if (status_text.empty() && !FileExists(stem + suffix)) status_text = "no output file " + stem + suffix;
  if (!status_text.empty()) {
    const std::string reasons = Reasons(log);
    return Fail(kExitRefused, "MindSpore Lite's converter refused " + onnx +
                                  (reasons.empty() ? ": " + status_text.substr(0, status_text.find('\n'))
                                                   : (reasons.rfind("at op ", 0) == 0 ? " " : ": ") + reasons));
  }
  if (!has_suffix && std::rename((stem + suffix).c_str(), output.c_str()) != 0) {
    return Fail(kExitRefused, "cannot rename " + stem + suffix + " to " + output);
  }
  std::cout << "converted " << onnx << " -> " << output << std::endl;
  return 0;
}
