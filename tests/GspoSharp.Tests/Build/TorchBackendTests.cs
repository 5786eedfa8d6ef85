using System.Diagnostics;
using System.Text.Json.Nodes;

namespace GspoSharp.Tests.Build;

/// <summary>
/// -p:TorchBackend selects the TorchSharp package. The CUDA packages are not restored here, so the
/// projects are only evaluated (dotnet msbuild -getItem / -getProperty), which reads no package.
/// </summary>
public class TorchBackendTests
{
    static (int ExitCode, string Output) Msbuild(string project, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Repository.Root };
        foreach (var a in new[] { "msbuild", Path.Combine(Repository.Root, project), "-nologo" }.Concat(arguments)) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.GetAwaiter().GetResult());
    }

    static JsonNode Evaluate(string project, params string[] arguments)
    {
        var (exit, output) = Msbuild(project, arguments);
        Assert.True(exit == 0, output);
        return JsonNode.Parse(output)!;
    }

    static string[] TorchReferences(JsonNode evaluation) => evaluation["Items"]!["PackageReference"]!.AsArray()
        .Select(i => (string)i!["Identity"]!).Where(n => n.StartsWith("TorchSharp", StringComparison.Ordinal)).ToArray();

    [Theory]
    [InlineData("src/GspoSharp.Models/GspoSharp.Models.csproj")]
    [InlineData("src/GspoSharp/GspoSharp.csproj")]
    public void The_backend_property_selects_the_torchsharp_package(string project)
    {
        string cuda = OperatingSystem.IsWindows() ? "TorchSharp-cuda-windows" : "TorchSharp-cuda-linux";
        var byDefault = Evaluate(project, "-getItem:PackageReference", "-getProperty:DefineConstants");
        Assert.Equal(new[] { "TorchSharp-cpu" }, TorchReferences(byDefault));
        Assert.DoesNotContain("GSPO_TORCH_CUDA", (string)byDefault["Properties"]!["DefineConstants"]!);
        Assert.Equal(new[] { "TorchSharp-cpu" }, TorchReferences(Evaluate(project, "-getItem:PackageReference", "-p:TorchBackend=cpu")));

        var onGpu = Evaluate(project, "-getItem:PackageReference", "-getProperty:DefineConstants", "-p:TorchBackend=cuda");
        Assert.Equal(new[] { cuda }, TorchReferences(onGpu));
        Assert.Contains("GSPO_TORCH_CUDA", ((string)onGpu["Properties"]!["DefineConstants"]!).Split(';'));
    }

    [Fact]
    public void Every_torchsharp_package_the_switch_can_name_has_a_central_version()
    {
        var versions = Evaluate("src/GspoSharp.Models/GspoSharp.Models.csproj", "-getItem:PackageVersion")["Items"]!["PackageVersion"]!.AsArray()
            .ToDictionary(i => (string)i!["Identity"]!, i => (string)i!["Version"]!);
        foreach (var package in new[] { "TorchSharp-cpu", "TorchSharp-cuda-linux", "TorchSharp-cuda-windows" })
            Assert.Equal(versions["TorchSharp-cpu"], versions[package]);
    }

    [Fact]
    public void An_unknown_backend_stops_the_build_with_one_message()
    {
        var (exit, output) = Msbuild("src/GspoSharp.Models/GspoSharp.Models.csproj", new[] { "-t:GspoCheckTorchBackend", "-p:TorchBackend=rocm" });
        Assert.NotEqual(0, exit);
        Assert.Contains("TorchBackend is 'rocm'; use cpu (TorchSharp-cpu, the default) or cuda", output);
    }
}
