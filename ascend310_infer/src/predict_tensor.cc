/**
 * mindzoo ascend310_infer: predict_tensor, the harness's backend on one raw tensor (no images, no preprocessing).
 *
 *   predict_tensor --model_path MODEL --input X.bin --shape N,C,H,W --output Y.bin
 *                  [--device_type CPU] [--device_id 0] [--threads 0] [--warmup 0] [--repeat 1]
 *
 * X.bin is float32 of --shape; Y.bin gets the model's first output, raw. Prints "backend NAME: DESCRIPTION",
 * "output DTYPE D0,D1,..." and "latency median M ms, mean A ms of R calls" (the --repeat timed Predict calls
 * after --warmup untimed ones; the output of the last one is written). export.py verifies a MindSpore Lite
 * model with it against the live network (the same backend the harness runs), and bench/infer.py times batches
 * with it. Exit codes: 0 ok, 1 load or predict failure, 2 bad usage or input.
 */
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "backend.h"
#include "exit_status.h"

namespace {

using mindzoo::Fail;
using mindzoo::kExitFailure;
using mindzoo::kExitUsage;

bool ParseInt(const std::string &text, long long minimum, long long *value) {
  try {
    size_t used = 0;
    *value = std::stoll(text, &used);
    return used == text.size() && *value >= minimum;
  } catch (const std::exception &) {
    return false;
  }
}

bool ParseShape(const std::string &text, std::vector<int64_t> *shape) {
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    long long dim = 0;
    if (!ParseInt(part, 1, &dim)) return false;
    shape->push_back(dim);
  }
  return !shape->empty();
}

}  // namespace

int main(int argc, char **argv) {
  std::string model, input_path, output_path, device = "CPU", shape_text;
  long long device_id = 0, threads = 0, warmup = 0, repeat = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Fail(kExitUsage, "missing value for " + flag);
    const std::string value = argv[++i];
    bool ok = true;
    if (flag == "--model_path") model = value;
    else if (flag == "--input") input_path = value;
    else if (flag == "--output") output_path = value;
    else if (flag == "--shape") shape_text = value;
    else if (flag == "--device_type") device = value;
    else if (flag == "--device_id") ok = ParseInt(value, 0, &device_id);
    else if (flag == "--threads") ok = ParseInt(value, 0, &threads);
    else if (flag == "--warmup") ok = ParseInt(value, 0, &warmup);
    else if (flag == "--repeat") ok = ParseInt(value, 1, &repeat);
    else return Fail(kExitUsage, "unknown argument " + flag);
    if (!ok) return Fail(kExitUsage, "bad value for " + flag + ": '" + value + "'");
  }
  std::vector<int64_t> shape;
  if (!ParseShape(shape_text, &shape)) return Fail(kExitUsage, "--shape must be N,C,H,W positive integers");
  if (model.empty() || input_path.empty() || output_path.empty()) {
    return Fail(kExitUsage, "--model_path, --input, --shape and --output are required");
  }
  size_t count = 1;
  for (int64_t d : shape) count *= static_cast<size_t>(d);
  std::vector<float> input(count);
  std::ifstream in(input_path, std::ios::binary | std::ios::ate);
  if (!in) return Fail(kExitUsage, "cannot read input tensor " + input_path);
  if (static_cast<size_t>(in.tellg()) != count * sizeof(float)) {
    return Fail(kExitUsage, input_path + " is not float32 of shape " + shape_text);
  }
  in.seekg(0);
  in.read(reinterpret_cast<char *>(input.data()), static_cast<std::streamsize>(count * sizeof(float)));

  std::unique_ptr<mindzoo::Backend> backend(mindzoo::CreateBackend());
  if (!backend->Load(model.c_str(), device.c_str(), static_cast<int>(device_id), static_cast<int>(threads))) {
    return Fail(kExitFailure, "cannot load model " + model + " with the " + backend->Name() + " backend on " + device +
                                  ": " + backend->LastError());
  }
  std::cout << "backend " << backend->Name() << ": " << backend->Description() << std::endl;
  mindzoo::Output output;
  for (long long i = 0; i < warmup; ++i) {
    if (!backend->Predict(input.data(), shape, &output)) return Fail(kExitFailure, backend->LastError());
  }
  std::vector<double> latencies;
  for (long long i = 0; i < repeat; ++i) {
    const auto start = std::chrono::steady_clock::now();
    if (!backend->Predict(input.data(), shape, &output)) {
      return Fail(kExitFailure, "Predict on input " + shape_text + " failed: " + backend->LastError());
    }
    latencies.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::ofstream out(output_path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char *>(output.bytes.data()), static_cast<std::streamsize>(output.bytes.size()));
  out.close();
  if (!out) return Fail(kExitFailure, "cannot write " + output_path);
  std::cout << "output " << output.dtype << " ";
  for (size_t i = 0; i < output.shape.size(); ++i) std::cout << (i ? "," : "") << output.shape[i];
  std::cout << std::endl;
  double total = 0.0;
  for (double ms : latencies) total += ms;
  std::sort(latencies.begin(), latencies.end());
  const size_t n = latencies.size();
  const double median = n % 2 ? latencies[n / 2] : 0.5 * (latencies[n / 2 - 1] + latencies[n / 2]);
  std::cout << "latency median " << median << " ms, mean " << total / n << " ms of " << n << " calls" << std::endl;
  return 0;
}
