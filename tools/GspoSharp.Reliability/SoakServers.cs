namespace GspoSharp.Reliability;

/// <summary>
/// The gspo serve children a served soak configuration samples on: a tiny model made with
/// <c>gspo init-model</c> (the same model the in-process configurations create), and the servers
/// under the trainer's GC stress, on 127.0.0.1 and free ports. Stopped with SIGTERM at the end;
/// a server that exited early, ended badly or logged a failed request is a violation.
/// </summary>
internal sealed class SoakServers : IDisposable
{
    static readonly TimeSpan StartLimit = TimeSpan.FromMinutes(2);

    readonly List<GspoChild> children = new();

    /// <summary>The config keys that point the trainer at the servers (empty without servers).</summary>
    public string ConfigKeys { get; private set; } = "";

    public static SoakServers Start(string name, int count, IReadOnlyDictionary<string, string> environment, string outDirectory)
    {
        var servers = new SoakServers();
        if (count == 0) return servers;
        try
        {
            string model = Path.Combine(Path.GetFullPath(outDirectory), name + "-model");
            if (Directory.Exists(model)) Directory.Delete(model, recursive: true);
            using (var init = GspoChild.Start(outDirectory, new Dictionary<string, string>(), "init-model", "--arch", "qwen3", "--size", "tiny", "--out", model))
                if (init.Wait(StartLimit) is { ExitCode: not 0 } failed)
                    throw new InvalidOperationException($"gspo init-model failed: {failed.StderrTail()}");
            var urls = new List<string>();
            for (int i = 0; i < count; i++)
            {
                var server = GspoChild.Start(outDirectory, environment, "serve", "--model", model, "--port", "0");
                servers.children.Add(server);
                string line = server.WaitForLine(l => l.Contains("listening on http://", StringComparison.Ordinal), StartLimit)
                              ?? throw new InvalidOperationException($"gspo serve did not start: {server.Wait(TimeSpan.FromSeconds(5)).StderrTail()}");
                urls.Add(line[line.IndexOf("http://", StringComparison.Ordinal)..].Split(',')[0].Trim());
            }
            servers.ConfigKeys = $"model: \"{model}\"\nrollout_servers: [{string.Join(", ", urls)}]\n";
            return servers;
        }
        catch
        {
            servers.Dispose();
            throw;
        }
    }

    /// <summary>Stops every server and returns what went wrong with them.</summary>
    public List<string> Stop()
    {
        var violations = new List<string>();
        for (int i = 0; i < children.Count; i++)
        {
            bool early = children[i].HasExited;
            children[i].Terminate();
            var outcome = children[i].Wait(TimeSpan.FromSeconds(30));
            if (early) violations.Add($"server {i} exited during the run (exit code {outcome.ExitCode}): {outcome.StderrTail()}");
            else if (outcome.ExitCode != 0) violations.Add($"server {i} stopped with exit code {outcome.ExitCode}: {outcome.StderrTail()}");
            // gspo serve logs a request that failed on the server's side as "fail: GspoSharp.Serving[0] …".
            foreach (var line in outcome.Stderr.Split('\n').Where(l => l.StartsWith("fail:", StringComparison.Ordinal)).Take(3))
                violations.Add($"server {i}: {(line.Length > 400 ? line[..400] + " …" : line)}");
        }
        children.Clear();
        return violations;
    }

    public void Dispose()
    {
        foreach (var child in children) child.Dispose();
        children.Clear();
    }
}
