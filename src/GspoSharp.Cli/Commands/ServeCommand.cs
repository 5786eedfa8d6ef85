using System.CommandLine;
using GspoSharp.Serving;
using GspoSharp.Serving.Engine;
using static TorchSharp.torch;

namespace GspoSharp.Cli.Commands;

/// <summary>
/// <c>gspo serve</c>: an OpenAI-compatible HTTP server (vLLM's completions and chat endpoints, SGLang's
/// /generate and weight updates) with continuous batching over one model. See docs/serve.md.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model", "-m") { Description = "Model directory (config.json, safetensors, tokenizer.json).", Required = true };
        var adapter = new Option<string[]>("--adapter") { Description = "PEFT LoRA adapter to load, as DIR or NAME=DIR (name: the directory's name); repeatable. Requests select it with \"model\": NAME.", AllowMultipleArgumentsPerToken = false };
        var host = new Option<string>("--host") { Description = "Address to listen on. Default: loopback only.", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port; 0 picks a free one. The bound address is printed.", DefaultValueFactory = _ => 8000 };
        var maxBatch = new Option<int>("--max-batch") { Description = "Most sequences decoded together.", DefaultValueFactory = _ => 64 };
        var maxQueue = new Option<int>("--max-queue") { Description = "Most requests waiting to start; more are answered 429.", DefaultValueFactory = _ => 1024 };
        var dtype = new Option<string>("--dtype") { Description = "float32 or bfloat16: the dtype the model computes and samples in.", DefaultValueFactory = _ => "float32" };
        var name = new Option<string?>("--served-model-name") { Description = "The model name clients send in \"model\". Default: --model as given." };
        var threads = new Option<int?>("--threads") { Description = "LibTorch threads the model samples with. Default: 1 for models under 1 M parameters (their decoding steps are too small to split), else OMP_NUM_THREADS or the cores." };
        var apiKey = new Option<string?>("--api-key") { Description = "Require \"Authorization: Bearer KEY\" on every request but /health." };
        var command = new Command("serve", "Serve a model over HTTP: OpenAI-compatible completions and chat, SGLang /generate, weight updates, LoRA adapters.")
        {
            model, adapter, host, port, maxBatch, maxQueue, dtype, threads, name, apiKey,
        };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            string modelDir = parse.GetValue(model)!.FullName;
            var scalar = parse.GetValue(dtype) switch
            {
                "float32" => ScalarType.Float32,
                "bfloat16" => ScalarType.BFloat16,
                var other => throw new ArgumentException($"--dtype {other}: expected float32 or bfloat16."),
            };
            int portValue = parse.GetValue(port), batch = parse.GetValue(maxBatch), queue = parse.GetValue(maxQueue);
            if (portValue is < 0 or > 65535) throw new ArgumentException($"--port {portValue}: expected 0 to 65535.");
            if (batch < 1) throw new ArgumentException($"--max-batch {batch}: expected at least 1.");
            if (parse.GetValue(threads) is < 1 and var few) throw new ArgumentException($"--threads {few}: expected at least 1.");
            if (queue < 0) throw new ArgumentException($"--max-queue {queue}: expected 0 or more.");
            var adapters = (parse.GetValue(adapter) ?? Array.Empty<string>()).Select(a =>
            {
                int eq = a.IndexOf('=');
                string path = Path.GetFullPath(eq > 0 ? a[(eq + 1)..] : a);
                string key = eq > 0 ? a[..eq] : new DirectoryInfo(path).Name;
                return (key, path);
            }).ToList();
            var options = new ServerOptions
            {
                Model = modelDir, Adapters = adapters, Host = parse.GetValue(host)!, Port = portValue, MaxBatch = batch, MaxQueue = queue,
                Dtype = scalar, Threads = parse.GetValue(threads), ServedModelName = parse.GetValue(name) ?? parse.GetValue(model)!.ToString(), ApiKey = parse.GetValue(apiKey),
            };
            var served = ServedModel.Load(modelDir, scalar);
            // TEST ONLY (TestHooks): while this file exists no waiting request starts.
            var hold = Environment.GetEnvironmentVariable(TestHooks.ServeHoldVariable) is { Length: > 0 } holdFile ? () => File.Exists(holdFile) : (Func<bool>?)null;
            var worker = new BatchWorker(served, scalar, batch, queue, hold, options.Threads);
            try
            {
                foreach (var (key, path) in adapters) worker.LoadAdapter(key, path).GetAwaiter().GetResult();
            }
            catch
            {
                worker.Dispose();
                throw;
            }
            return ServingHost.Run(options, worker);
        }));
        return command;
    }
}
