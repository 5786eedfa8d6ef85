using static TorchSharp.torch;

namespace GspoSharp.Serving;

/// <summary>The options of <c>gspo serve</c> (docs/serve.md).</summary>
public sealed record ServerOptions
{
    /// <summary>The model directory.</summary>
    public required string Model { get; init; }

    /// <summary>LoRA adapters loaded at start: (name, directory).</summary>
    public IReadOnlyList<(string Name, string Path)> Adapters { get; init; } = Array.Empty<(string, string)>();

    /// <summary>Address to listen on (loopback by default).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>Port; 0 picks a free one (the bound address is printed).</summary>
    public int Port { get; init; } = 8000;

    /// <summary>Most sequences decoded together.</summary>
    public int MaxBatch { get; init; } = 64;

    /// <summary>Most requests waiting to start; more get 429.</summary>
    public int MaxQueue { get; init; } = 1024;

    /// <summary>LibTorch threads the worker samples with; null: one for models under 1 M parameters, else the
    /// process's count (<see cref="GspoSharp.Models.IntraOpThreads.For"/>).</summary>
    public int? Threads { get; init; }

    /// <summary>The dtype the model computes in.</summary>
    public ScalarType Dtype { get; init; } = ScalarType.Float32;

    /// <summary>The name clients use in <c>model</c> (default: the model directory as given).</summary>
    public required string ServedModelName { get; init; }

    /// <summary>A Bearer key every request but /health must carry; null for none.</summary>
    public string? ApiKey { get; init; }

    /// <summary>How long a graceful shutdown lets requests in flight finish before cancelling them.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(10);
}
