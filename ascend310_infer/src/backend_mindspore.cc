/**
 * mindzoo ascend310_infer: MindSpore C++ inference backend, for .mindir files from export.py.
 *
 * Needs the MindSpore inference package of an Atlas host (the include/api headers and lib/libmindspore.so, e.g.
 * the Ascend MindSpore wheel's install dir, or MindSpore Lite's lib/libmindspore-lite.so, built with
 * MINDZOO_MINDSPORE_LITE); the PyPI CPU wheel ships no C++ API. See src/CMakeLists.txt.
 * This file may be compiled with _GLIBCXX_USE_CXX11_ABI=0 (CMake option MS_CXX11_ABI=OFF, the default,
 * as MindSpore's own model-zoo harnesses do): the Backend interface carries no std::string.
 */
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "include/api/cell.h"
#include "include/api/context.h"
#include "include/api/model.h"
#include "include/api/serialization.h"
#include "include/api/status.h"
#include "include/api/types.h"

#include "backend.h"

namespace mindzoo {
namespace {

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

    const std::string path(model_path);
#ifdef MINDZOO_MINDSPORE_LITE
    // MindSpore Lite (libmindspore-lite.so) loads and builds in one call.
    mindspore::Status status = model_.Build(path, mindspore::ModelType::kMindIR, context);
#else
    mindspore::Graph graph;
    mindspore::Status status = mindspore::Serialization::Load(path, mindspore::ModelType::kMindIR, &graph);
    if (status != mindspore::kSuccess) {
      error_ = "Serialization::Load failed: " + status.ToString();
      return false;
    }
    status = model_.Build(mindspore::GraphCell(graph), context);
#endif
    if (status != mindspore::kSuccess) {
      error_ = "Model::Build failed: " + status.ToString();
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
    std::cout << "mindspore model '" << inputs_[0].Name() << "' built on " << device << ":" << device_id << std::endl;
    return true;
  }

  std::vector<int64_t> InputShape() const override { return inputs_.empty() ? std::vector<int64_t>() : inputs_[0].Shape(); }

  bool Predict(const float *input, const std::vector<int64_t> &shape, Output *output) override {
    size_t count = 1;
    for (int64_t d : shape) count *= static_cast<size_t>(d);
    std::vector<mindspore::MSTensor> inputs;
    inputs.emplace_back(inputs_[0].Name(), inputs_[0].DataType(), shape, input, count * sizeof(float));
    std::vector<mindspore::MSTensor> outputs;
    mindspore::Status status = model_.Predict(inputs, &outputs);
    if (status != mindspore::kSuccess) {
      error_ = "Model::Predict failed: " + status.ToString();
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

 private:
  mindspore::Model model_;
  std::vector<mindspore::MSTensor> inputs_;
  std::string error_;
};

}  // namespace

Backend *CreateBackend() { return new MindSporeBackend(); }

}  // namespace mindzoo
