namespace GspoSharp.Tests.Serving;

/// <summary>One tiny Qwen3 model and one server on it, shared by the server tests (each start-up costs
/// a second or two); tests that need other options start their own server on the same model.</summary>
public sealed class ServerFixture : IDisposable
{
    public ServerFixture()
    {
        Model = ServeTestKit.TinyModel(Path.Combine(Directory.Path, "model"));
        Server = ServeProcess.Start(Model, null, "--max-batch", "64", "--served-model-name", "tiny");
    }

    public TempDirectory Directory { get; } = new();
    public string Model { get; }
    public ServeProcess Server { get; }

    public void Dispose()
    {
        Server.Dispose();
        Directory.Dispose();
    }
}

[CollectionDefinition("serve")]
public sealed class ServeCollection : ICollectionFixture<ServerFixture>;
