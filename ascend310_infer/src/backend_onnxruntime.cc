/**
 * mindzoo ascend310_infer: ONNX Runtime backend (CPU execution provider), for .onnx files from export.py.
 */
#define ORT_API_MANUAL_INIT
#include <onnxruntime_cxx_api.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "backend.h"

namespace mindzoo {
namespace {

class OnnxRuntimeBackend : public Backend {
 public:
  bool Load(const char *model_path, const char *device_type, int device_id, int threads) override {
    (void)device_id;
    if (std::string(device_type) != "CPU") {
      error_ = std::string("the onnxruntime backend runs on CPU only, got --device_type ") + device_type +
               " (use a .mindir model and build.sh mindspore for Ascend)";
      return false;
    }
    // Headers newer than the library would leave the API table null: check instead of crashing.
    const OrtApi *api = OrtGetApiBase()->GetApi(ORT_API_VERSION);
    if (api == nullptr) {
      error_ = std::string("libonnxruntime ") + OrtGetApiBase()->GetVersionString() +
               " does not provide ONNX Runtime API version " + std::to_string(ORT_API_VERSION) +
               " that the harness was compiled against; use headers no newer than the library";
      return false;
    }
    Ort::InitApi(api);
    try {
      env_ = std::make_unique<Ort::Env>(ORT_LOGGING_LEVEL_WARNING, "mindzoo_infer");
      Ort::SessionOptions session_options;
      if (threads > 0) session_options.SetIntraOpNumThreads(threads);
      session_options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
      session_ = std::make_unique<Ort::Session>(*env_, model_path, session_options);
      if (session_->GetInputCount() < 1 || session_->GetOutputCount() < 1) {
        error_ = "the model has no input or no output";
        return false;
      }
      Ort::AllocatorWithDefaultOptions allocator;
      input_name_ = session_->GetInputNameAllocated(0, allocator).get();
      output_name_ = session_->GetOutputNameAllocated(0, allocator).get();
      Ort::TypeInfo type_info = session_->GetInputTypeInfo(0);  // must outlive the view below
      auto input_info = type_info.GetTensorTypeAndShapeInfo();
      if (input_info.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
        error_ = "the model's first input is not float32";
        return false;
      }
      input_shape_ = input_info.GetShape();
      description_ = std::string("ONNX Runtime ") + OrtGetApiBase()->GetVersionString() + " C++ API (headers API " +
                     std::to_string(ORT_API_VERSION) + "), CPU execution provider";
      std::cout << description_ << ", input '" << input_name_ << "', output '" << output_name_ << "'" << std::endl;
    } catch (const Ort::Exception &e) {
      error_ = e.what();
      return false;
    }
    return true;
  }

  std::vector<int64_t> InputShape() const override { return input_shape_; }

  bool Predict(const float *input, const std::vector<int64_t> &shape, Output *output) override {
    try {
      size_t count = 1;
      for (int64_t d : shape) count *= static_cast<size_t>(d);
      Ort::MemoryInfo memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
      Ort::Value tensor =
        Ort::Value::CreateTensor<float>(memory, const_cast<float *>(input), count, shape.data(), shape.size());
      const char *input_names[] = {input_name_.c_str()};
      const char *output_names[] = {output_name_.c_str()};
      std::vector<Ort::Value> results =
        session_->Run(Ort::RunOptions{nullptr}, input_names, &tensor, 1, output_names, 1);
      auto info = results[0].GetTensorTypeAndShapeInfo();
      size_t element_size = 0;
      switch (info.GetElementType()) {
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: output->dtype = "float32"; element_size = 4; break;
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: output->dtype = "float16"; element_size = 2; break;
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: output->dtype = "float64"; element_size = 8; break;
        default:
          error_ = "unsupported output element type " + std::to_string(info.GetElementType());
          return false;
      }
      output->shape = info.GetShape();
      const size_t bytes = info.GetElementCount() * element_size;
      const auto *data = static_cast<const uint8_t *>(results[0].GetTensorRawData());
      output->bytes.assign(data, data + bytes);
    } catch (const Ort::Exception &e) {
      error_ = e.what();
      return false;
    }
    return true;
  }

  const char *LastError() const override { return error_.c_str(); }
  const char *Name() const override { return "onnxruntime"; }
  const char *Description() const override { return description_.c_str(); }

 private:
  std::unique_ptr<Ort::Env> env_;
  std::unique_ptr<Ort::Session> session_;
  std::string input_name_;
  std::string output_name_;
  std::vector<int64_t> input_shape_;
  std::string description_ = "ONNX Runtime C++ API";
  std::string error_;
};

}  // namespace

Backend *CreateBackend() { return new OnnxRuntimeBackend(); }

}  // namespace mindzoo
