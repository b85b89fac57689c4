/**
 * mindzoo ascend310_infer: batch-1 inference over an ImageNet-layout folder.
 *
 *   main --model_path MODEL --dataset_path DATA/val --resize R --crop C [--device_type CPU|Ascend310|Ascend310P]
 *        [--device_id 0] [--output_dir .] [--warmup 0]
 *
 * --warmup N first makes N untimed Predict calls on the first image's tensor (outputs discarded). Then
 * each image gets eval.py's preprocessing (utils.cc), one timed Predict, and its first output written raw
 * to result_Files/<key>_0.bin; result_Files/meta.json records dtype, shape and the image of each result;
 * time_Result/test_perform_static.txt the mean and median latency of the timed calls and the warmup
 * count. postprocess.py turns the results and imagenet_label.json (create_imagenet2012_label.py) into
 * acc.log.
 *
 * Exit codes: 0 ok, 1 inference failure, 2 bad usage or input.
 */
#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "backend.h"
#include "exit_status.h"
#include "utils.h"

using mindzoo::Backend;
using mindzoo::ImageItem;
using mindzoo::Options;

namespace {

using mindzoo::Fail;
using mindzoo::kExitFailure;
using mindzoo::kExitUsage;

std::string FloatList(const std::vector<float> &values) {
  std::ostringstream out;
  out << std::setprecision(7) << "[";
  for (size_t i = 0; i < values.size(); ++i) out << (i ? ", " : "") << values[i];
  out << "]";
  return out.str();
}

std::string ShapeText(const std::vector<int64_t> &shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

// The model's declared input must take [1, 3, crop, crop] (dynamic dimensions are fine).
bool CheckInputShape(const std::vector<int64_t> &declared, int crop, std::string *error) {
  if (declared.empty()) return true;  // backend could not tell
  const std::vector<int64_t> wanted = {1, 3, crop, crop};
  bool fits = declared.size() == 4;
  for (size_t i = 0; fits && i < 4; ++i) fits = declared[i] < 0 || declared[i] == wanted[i];
  if (!fits) {
    *error = "the model's input shape " + ShapeText(declared) + " does not take a batch-1 image of " +
             ShapeText(wanted) + "; pass the --crop the model was exported with";
  }
  return fits;
}

// Makes options.warmup untimed Predict calls on the item's preprocessed tensor, so that one-off costs
// (allocations, kernel selection, cold caches) stay out of the timed loop. The outputs are discarded.
bool Warmup(Backend *backend, const ImageItem &item, const Options &options, const std::vector<int64_t> &input_shape,
            std::string *error) {
  std::vector<float> input;
  if (!mindzoo::Preprocess(item.path, options, &input, error)) return false;
  mindzoo::Output discarded;
  for (int i = 0; i < options.warmup; ++i) {
    if (!backend->Predict(input.data(), input_shape, &discarded)) {
      *error = "warmup Predict failed on " + item.path + ": " + backend->LastError();
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char **argv) {
  Options options;
  std::string error;
  if (!mindzoo::ParseArgs(argc, argv, &options, &error)) return Fail(kExitUsage, error + " (see --help)");
  if (options.help) {
    mindzoo::PrintUsage(argv[0]);
    return 0;
  }
  if (!mindzoo::FileExists(options.model_path)) return Fail(kExitUsage, "model file not found: " + options.model_path);
  if (!mindzoo::IsDirectory(options.dataset_path)) {
    return Fail(kExitUsage, "dataset path is not a directory: " + options.dataset_path);
  }
  if (options.resize < options.crop) {
    std::cerr << "warning: --resize " << options.resize << " < --crop " << options.crop
              << ": the centre crop will be zero-padded (as MindSpore's CenterCrop does)" << std::endl;
  }

  std::vector<ImageItem> items;
  if (!mindzoo::ListDataset(options.dataset_path, &items, &error)) return Fail(kExitUsage, error);
  if (options.max_images > 0 && items.size() > static_cast<size_t>(options.max_images)) {
    items.resize(options.max_images);
  }

  std::unique_ptr<Backend> backend(mindzoo::CreateBackend());
  const std::string backend_name = backend->Name();
  if (backend_name != "mindspore" && options.device_type != "CPU") {
    return Fail(kExitUsage, "this harness was built with the " + backend_name + " backend, which runs on CPU "
                            "only: use --device_type CPU, or build.sh mindspore (a .mindir model) for " +
                            options.device_type);
  }
  if (!backend->Load(options.model_path.c_str(), options.device_type.c_str(), options.device_id, options.threads)) {
    return Fail(kExitFailure, std::string("cannot load model ") + options.model_path + " with the " + backend->Name() +
                                " backend on " + options.device_type + ": " + backend->LastError());
  }
  if (!CheckInputShape(backend->InputShape(), options.crop, &error)) return Fail(kExitUsage, error);

  const std::string result_dir = mindzoo::JoinPath(options.output_dir, "result_Files");
  const std::string time_dir = mindzoo::JoinPath(options.output_dir, "time_Result");
  if (!mindzoo::MakeDirs(result_dir, &error) || !mindzoo::MakeDirs(time_dir, &error)) {
    return Fail(kExitFailure, error);
  }
  mindzoo::RemoveStaleResults(result_dir);
  if (!options.dump_input_dir.empty() && !mindzoo::MakeDirs(options.dump_input_dir, &error)) {
    return Fail(kExitFailure, error);
  }

  const std::string description = backend->Description();
  std::cout << "backend " << backend_name << ": " << description << "; device " << options.device_type << ":"
            << options.device_id << ", " << items.size() << " images, resize " << options.resize << ", crop "
            << options.crop << std::endl;

  const std::vector<int64_t> input_shape = {1, 3, options.crop, options.crop};
  if (options.warmup > 0) {
    std::cout << "warmup: " << options.warmup << " untimed Predict calls on " << items.front().rel_path << std::endl;
    if (!Warmup(backend.get(), items.front(), options, input_shape, &error)) return Fail(kExitFailure, error);
  }
  std::vector<float> input;
  std::vector<double> latencies_ms;
  latencies_ms.reserve(items.size());
  std::vector<int64_t> output_shape;
  std::string output_dtype;
  mindzoo::Output output;
  for (size_t i = 0; i < items.size(); ++i) {
    const ImageItem &item = items[i];
    if (!mindzoo::Preprocess(item.path, options, &input, &error)) return Fail(kExitFailure, error);
    if (!options.dump_input_dir.empty() &&
        !mindzoo::WriteBinary(mindzoo::JoinPath(options.dump_input_dir, item.key + ".bin"), input.data(),
                              input.size() * sizeof(float), &error)) {
      return Fail(kExitFailure, error);
    }
    const auto start = std::chrono::steady_clock::now();
    const bool ok = backend->Predict(input.data(), input_shape, &output);
    const auto end = std::chrono::steady_clock::now();
    if (!ok) return Fail(kExitFailure, "Predict failed on " + item.path + ": " + backend->LastError());
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    if (i == 0) {
      output_shape = output.shape;
      output_dtype = output.dtype;
    } else if (output.shape != output_shape || output_dtype != output.dtype) {
      return Fail(kExitFailure, "output of " + item.path + " is " + output.dtype + ShapeText(output.shape) +
                                  ", the first image's was " + output_dtype + ShapeText(output_shape));
    }
    if (!mindzoo::WriteBinary(mindzoo::JoinPath(result_dir, item.key + "_0.bin"), output.bytes.data(),
                              output.bytes.size(), &error)) {
      return Fail(kExitFailure, error);
    }
    if ((i + 1) % 100 == 0 || i + 1 == items.size()) {
      std::cout << "predicted " << (i + 1) << "/" << items.size() << std::endl;
    }
  }

  // Sidecar: how to read the .bin files and which image each one came from.
  std::ofstream meta(mindzoo::JoinPath(result_dir, "meta.json"), std::ios::trunc);
  meta << "{\n"
       << "  \"format\": \"mindzoo-ascend310-infer/1\",\n"
       << "  \"dtype\": \"" << output_dtype << "\",\n"
       << "  \"shape\": " << ShapeText(output_shape) << ",\n"
       << "  \"count\": " << items.size() << ",\n"
       << "  \"backend\": \"" << backend_name << "\",\n"
       << "  \"backend_description\": \"" << mindzoo::JsonEscape(description) << "\",\n"
       << "  \"device_type\": \"" << options.device_type << "\",\n"
       << "  \"device_id\": " << options.device_id << ",\n"
       << "  \"model_path\": \"" << mindzoo::JsonEscape(options.model_path) << "\",\n"
       << "  \"dataset_path\": \"" << mindzoo::JsonEscape(options.dataset_path) << "\",\n"
       << "  \"resize\": " << options.resize << ",\n"
       << "  \"crop\": " << options.crop << ",\n"
       << "  \"mean\": " << FloatList(options.mean) << ",\n"
       << "  \"std\": " << FloatList(options.std) << ",\n"
       << "  \"files\": [\n";
  for (size_t i = 0; i < items.size(); ++i) {
    meta << "    {\"result\": \"" << mindzoo::JsonEscape(items[i].key + "_0.bin") << "\", \"image\": \""
         << mindzoo::JsonEscape(items[i].rel_path) << "\", \"label\": " << items[i].label << "}"
         << (i + 1 < items.size() ? "," : "") << "\n";
  }
  meta << "  ]\n}\n";
  meta.close();
  if (!meta) return Fail(kExitFailure, "cannot write " + mindzoo::JoinPath(result_dir, "meta.json"));

  double total = 0.0;
  for (double ms : latencies_ms) total += ms;
  const double average = latencies_ms.empty() ? 0.0 : total / latencies_ms.size();
  const double median = mindzoo::Median(latencies_ms);
  std::ostringstream timing;
  timing << "NN inference cost average time: " << average << " ms of infer_count " << latencies_ms.size() << "\n"
         << "NN inference cost median time: " << median << " ms of infer_count " << latencies_ms.size() << "\n"
         << "warmup calls: " << options.warmup << "\n"
         << "backend: " << backend_name << ": " << description << "\n";
  std::cout << timing.str();
  std::ofstream time_file(mindzoo::JoinPath(time_dir, "test_perform_static.txt"), std::ios::trunc);
  time_file << timing.str();
  time_file.close();
  if (!time_file) return Fail(kExitFailure, "cannot write " + mindzoo::JoinPath(time_dir, "test_perform_static.txt"));
  return 0;
}
