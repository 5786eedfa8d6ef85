using GspoSharp.Training;

namespace GspoSharp.Tests.Cli;

/// <summary>This repository's build references TorchSharp-cpu: asking for a GPU stops before any work, with one message.</summary>
public class DeviceRefusalTests
{
    const string Message = "device: is 'cuda' but this gspo is a CPU build (TorchSharp-cpu); build it with dotnet build -p:TorchBackend=cuda";

    [Fact]
    public void The_config_refuses_cuda_in_a_cpu_build()
    {
        Assert.False(TrainConfig.CudaBuild);
        Assert.StartsWith(Message, Assert.Throws<ArgumentException>(() => new TrainConfig { Device = "cuda" }.Validate()).Message);
        Assert.StartsWith(Message.Replace("'cuda'", "'cuda:1'"), Assert.Throws<ArgumentException>(() => new TrainConfig { Device = "cuda:1" }.Validate()).Message);
    }

    [Fact]
    public void Gspo_train_with_device_cuda_stops_before_any_work()
    {
        using var dir = new TempDirectory();
        string config = Path.Combine(dir.Path, "gpu.yaml");
        File.WriteAllText(config, "device: cuda\nmax_steps: 1\n");
        foreach (var args in new[]
                 {
                     new[] { "train", "--run-dir", Path.Combine(dir.Path, "a"), "--set", "device=cuda" },
                     new[] { "train", "--run-dir", Path.Combine(dir.Path, "b"), "--config", config },
                 })
        {
            var result = GspoProcess.Run(args);
            Assert.NotEqual(0, result.ExitCode);
            var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Single(lines);
            Assert.Contains(Message, lines[0]);
            Assert.DoesNotContain("   at ", result.Stderr);
            Assert.False(Directory.Exists(args[2]), "nothing is written");
        }
    }
}
