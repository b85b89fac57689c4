/**
 * mindzoo ascend310_infer: MindSpore C++ inference backend (include/api), for .mindir files from export.py.
 *
 * For Atlas hosts (Ascend310 / Ascend310P) with MindSpore's C++ inference package: with lib/libmindspore.so the
 * model is loaded with Serialization::Load and built with Model::Build(GraphCell); a MindSpore Lite install
 * (lib/libmindspore-lite.so, or lib/libmindspore-extendrt_python.so of the mindspore-lite PyPI wheel; built
 * with MINDZOO_MINDSPORE_LITE) gets Model::Build(path, kMindIR, context), as in the model zoo. See
 * src/CMakeLists.txt. Compiled and linked here against mindspore-lite 2.0.0 (tests/test_infer_mindir.py), never
 * run on Ascend.
 *
 * A runtime older than the MINDIR refuses it with "Common error code." and the reason only in its log
 * (Model::Build(path)) or in a thrown exception (Serialization::Load): the log is captured and kept on stdout,
 * and the refusal becomes one line that names both versions (the file's mind_ir_version and producer, read
 * from the file here, and the runtime's maximum, from the log or the exception).
 *
 * This file may be compiled with _GLIBCXX_USE_CXX11_ABI=0 (CMake option MS_CXX11_ABI=OFF, the default, as
 * MindSpore's packages and its model-zoo harnesses are): the Backend interface carries no std::string.
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "include/api/cell.h"
#include "include/api/context.h"
#include "include/api/model.h"
#include "include/api/serialization.h"
#include "include/api/status.h"
#include "include/api/types.h"

#include "backend.h"
#include "mindspore_log.h"

#ifndef MINDZOO_MINDSPORE_PACKAGE
#define MINDZOO_MINDSPORE_PACKAGE ""
#endif

namespace mindzoo {
namespace {

// What a MINDIR says about itself: mind_ir.proto ModelProto fields 5 (model_version: the exporting MindSpore
// release) and 13 (mind_ir_version), read from the top-level protobuf fields without a protobuf library.
struct MindirHeader {
  long long mind_ir_version = 0;  // absent = 0, as MindSpore's loader reads it
  std::string producer;           // e.g. "2.10.0"; "" if absent
  bool readable = false;
};

bool ReadVarint(std::istream &in, unsigned long long *value) {
  *value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    const int byte = in.get();
    if (byte == EOF) return false;
    *value |= static_cast<unsigned long long>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

MindirHeader ReadMindirHeader(const std::string &path) {
  MindirHeader header;
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  const std::streamoff size = in.tellg();
  in.seekg(0);
  unsigned long long key = 0;
  while (in && ReadVarint(in, &key)) {
    const unsigned long long field = key >> 3;
    const int wire = static_cast<int>(key & 7);
    unsigned long long value = 0;
    if (wire == 0) {
      if (!ReadVarint(in, &value)) return header;
      if (field == 13) header.mind_ir_version = static_cast<long long>(value);
    } else if (wire == 2) {
      if (!ReadVarint(in, &value)) return header;
      if (field == 5 && value < 256) {
        header.producer.assign(static_cast<size_t>(value), '\0');
        in.read(&header.producer[0], static_cast<std::streamsize>(value));
      } else {
        in.seekg(static_cast<std::streamoff>(value), std::ios::cur);  // the graph and its weights
      }
    } else if (wire == 1 || wire == 5) {
      in.seekg(wire == 1 ? 8 : 4, std::ios::cur);
    } else {
      return header;  // not a protobuf we understand
    }
    if (in.tellg() > size) return header;  // a length past the end: not a MINDIR
  }
  header.readable = in.eof();
  return header;
}

class MindSporeBackend : public Backend {
 public:
  bool Load(const char *model_path, const char *device_type, int device_id, int threads) override {
    auto context = std::make_shared<mindspore::Context>();
    if (threads > 0) context->SetThreadNum(threads);
    const std::string device(device_type);
    if (device == "Ascend310" || device == "Ascend310P") {
      // Ascend310DeviceInfo (an alias of AscendDeviceInfo since MindSpore 1.6) serves 310 and 310P alike.
      auto ascend = std::make_shared<mindspore::Ascend310DeviceInfo>();
      ascend->SetDeviceID(static_cast<uint32_t>(device_id));
      context->MutableDeviceInfo().push_back(ascend);
    } else if (device == "CPU") {
      context->MutableDeviceInfo().push_back(std::make_shared<mindspore::CPUDeviceInfo>());
    } else {
      error_ = "unsupported device type " + device;
      return false;
    }
    runtime_ = RuntimeName();
    description_ = "MindSpore C++ API (" + runtime_ + ")";

    const std::string path(model_path);
    StderrCapture capture;
    capture.Start();
    const char *step = "Model::Build";
    std::string status_text;
    try {
      status_text = BuildModel(path, context, &step);
    } catch (const std::exception &e) {  // MindSpore throws from some load paths instead of returning a Status
      status_text = std::string("exception: ") + e.what();
    }
    const std::string log = capture.Stop();
    if (!log.empty()) std::cout << "MindSpore log of " << step << ":\n" << log << std::flush;
    if (!status_text.empty()) {
      error_ = BuildFailure(path, step, status_text.substr(0, status_text.find('\n')), log);
      return false;
    }
    inputs_ = model_.GetInputs();
    if (inputs_.empty()) {
      error_ = "the model has no inputs";
      return false;
    }
    if (inputs_[0].DataType() != mindspore::DataType::kNumberTypeFloat32) {
      error_ = "the model's first input is not float32";
      return false;
    }
    std::cout << description_ << ": model input '" << inputs_[0].Name() << "' built on " << device << ":"
              << device_id << std::endl;
    return true;
  }

  std::vector<int64_t> InputShape() const override {
    return inputs_.empty() ? std::vector<int64_t>() : inputs_[0].Shape();
  }

  bool Predict(const float *input, const std::vector<int64_t> &shape, Output *output) override {
    if (shape != inputs_[0].Shape() && !ResizeInput(shape)) return false;
    size_t count = 1;
    for (int64_t d : shape) count *= static_cast<size_t>(d);
    std::vector<mindspore::MSTensor> inputs;
    inputs.emplace_back(inputs_[0].Name(), inputs_[0].DataType(), shape, input, count * sizeof(float));
    std::vector<mindspore::MSTensor> outputs;
    try {
      mindspore::Status status = model_.Predict(inputs, &outputs);
      if (status != mindspore::kSuccess) {
        error_ = "Model::Predict failed: " + status.ToString();
        return false;
      }
    } catch (const std::exception &e) {
      error_ = std::string("Model::Predict threw: ") + e.what();
      error_ = error_.substr(0, error_.find('\n'));
      return false;
    }
    if (outputs.empty()) {
      error_ = "Model::Predict returned no output";
      return false;
    }
    mindspore::MSTensor &result = outputs[0];
    switch (result.DataType()) {
      case mindspore::DataType::kNumberTypeFloat32: output->dtype = "float32"; break;
      case mindspore::DataType::kNumberTypeFloat16: output->dtype = "float16"; break;
      case mindspore::DataType::kNumberTypeFloat64: output->dtype = "float64"; break;
      default:
        error_ = "unsupported output data type " + std::to_string(static_cast<int>(result.DataType()));
        return false;
    }
    output->shape = result.Shape();
    std::shared_ptr<const void> data = result.Data();  // host copy (device results are synced here)
    if (data == nullptr) {
      error_ = "Model::Predict returned an empty output";
      return false;
    }
    const auto *bytes = static_cast<const uint8_t *>(data.get());
    output->bytes.assign(bytes, bytes + result.DataSize());
    return true;
  }

  const char *LastError() const override { return error_.c_str(); }
  const char *Name() const override { return "mindspore"; }
  const char *Description() const override { return description_.c_str(); }

 private:
  // Loads and builds the model; "" on success, else the failed Status's text (*step names the failing call).
  std::string BuildModel(const std::string &path, const std::shared_ptr<mindspore::Context> &context,
                         const char **step) {
#ifdef MINDZOO_MINDSPORE_LITE
    // MindSpore Lite loads and builds in one call.
    mindspore::Status status = model_.Build(path, mindspore::ModelType::kMindIR, context);
#else
    mindspore::Graph graph;
    *step = "Serialization::Load";
    mindspore::Status status = mindspore::Serialization::Load(path, mindspore::ModelType::kMindIR, &graph);
    if (status == mindspore::kSuccess) {
      *step = "Model::Build";
      status = model_.Build(mindspore::GraphCell(graph), context);
    }
#endif
    return status == mindspore::kSuccess ? std::string() : status.ToString();
  }

  // A model with a dynamic (-1) or another batch is resized to the shape given before it runs: MindSpore Lite
  // refuses to infer shapes otherwise ("InferShape failed").
  bool ResizeInput(const std::vector<int64_t> &shape) {
    mindspore::Status status = model_.Resize(model_.GetInputs(), {shape});
    if (status != mindspore::kSuccess) {
      error_ = "Model::Resize to the input shape failed: " + status.ToString();
      return false;
    }
    inputs_ = model_.GetInputs();
    return true;
  }

  // mindspore::Version() where the library fills it in (the mindspore-lite wheel's returns ""), else the
  // package recorded at build time (MINDSPORE_PATH/version.txt).
  static std::string RuntimeName() {
    std::string name = mindspore::Version();
    if (name.empty()) name = MINDZOO_MINDSPORE_PACKAGE;
    return name.empty() ? "MindSpore, version unknown" : name;
  }

  // One line for a refused model. A runtime older than the file is the common case (MindSpore's loader
  // accepts mind_ir_version <= its own maximum, and every export writes the exporter's maximum).
  std::string BuildFailure(const std::string &path, const char *step, const std::string &status,
                           const std::string &log) const {
    const MindirHeader header = ReadMindirHeader(path);
    const std::string reported = status + "\n" + log;  // the reason is in the log, or in a thrown exception
    std::smatch match;
    static const std::regex kTooNew("maximum mind ir version: ([0-9]+)");
    if (header.readable && std::regex_search(reported, match, kTooNew)) {
      const std::string producer = header.producer.empty() ? "an unknown MindSpore" : "MindSpore " + header.producer;
      return "this MindSpore runtime (" + runtime_ + ") is too old for this MINDIR: it reads mind_ir_version <= " +
             match[1].str() + ", the file has mind_ir_version " + std::to_string(header.mind_ir_version) +
             " (exported by " + producer + "); run it with a MindSpore inference package of release " +
             (header.producer.empty() ? std::string("the exporting MindSpore") : header.producer) +
             " or newer, or export it with a MindSpore release whose MINDIR this runtime reads" +
             " (on CPU, DEVICE_TYPE=CPU runs it with the embedded MindSpore Python runtime)";
    }
    std::string reason = LastLoggedError(log);
    return std::string(step) + " failed: " + status + (reason.empty() ? "" : " (" + reason + ")") +
           (header.readable ? "" : "; " + path + " does not parse as a MINDIR file");
  }

  mindspore::Model model_;
  std::vector<mindspore::MSTensor> inputs_;
  std::string runtime_;
  std::string description_ = "MindSpore C++ API";
  std::string error_;
};

}  // namespace

Backend *CreateBackend() { return new MindSporeBackend(); }

}  // namespace mindzoo
