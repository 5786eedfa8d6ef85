using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using GspoSharp.Rollout;
using GspoSharp.Training;

namespace GspoSharp.Tests.Rollout;

/// <summary>Ctrl-C while the servers are sampling: the requests are cancelled, the run stops at the
/// last completed step with its checkpoint, and resumes.</summary>
public class RemoteRunInterruptTests
{
    /// <summary>A vLLM-protocol server on loopback that answers the first <see cref="AnswerFirst"/> requests
    /// (two tokens, fixed log-probs) and holds every later one unanswered.</summary>
    sealed class StallingServer : IDisposable
    {
        readonly HttpListener listener;
        readonly Task serving;
        int requests;
        volatile int answerFirst = int.MaxValue;

        public StallingServer()
        {
            (listener, Port) = LoopbackPorts.StartListener();
            serving = Task.Run(Serve);
        }

        public int Port { get; }
        public int AnswerFirst { get => answerFirst; set => answerFirst = value; }
        public volatile bool Stalled;

        async Task Serve()
        {
            while (true)
            {
                HttpListenerContext context;
                try { context = await listener.GetContextAsync(); }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
                if (Interlocked.Increment(ref requests) > AnswerFirst)
                {
                    Stalled = true;   // never answered: only the client's cancellation ends it
                    continue;
                }
                var bytes = Encoding.UTF8.GetBytes("""{"choices": [{"index": 0, "text": "", "finish_reason": "length", "token_ids": [5, 6], "logprobs": {"token_logprobs": [-0.5, -0.25]}}]}""");
                context.Response.ContentType = "application/json";
                await context.Response.OutputStream.WriteAsync(bytes);
                context.Response.Close();
            }
        }

        public void Dispose()
        {
            listener.Stop();
            listener.Close();
            serving.Wait();
        }
    }

    [Fact]
    public void A_stop_request_during_a_remote_rollout_cancels_it_and_the_run_resumes()
    {
        using var dir = new TempDirectory();
        string model = Path.Combine(dir.Path, "model");
        GspoSharp.Models.TinyModels.Create(model, GspoSharp.Models.Architecture.ModelType.Qwen3, GspoSharp.Models.ModelSize.Tiny, 1);
        using var server = new StallingServer { AnswerFirst = 8 };   // step 1 is 2 prompts × 4 samples
        var config = new TrainConfig
        {
            Model = model, PromptsPerStep = 2, NumGenerations = 4, StepsPerGeneration = 2, MaxCompletionLength = 4, LearningRate = 1e-3,
            MaxSteps = 3, Seed = 3, EvalPrompts = 1, EvalNumSamples = 1, SaveSteps = 1, Report = false,
            RolloutBackend = RolloutBackendKind.Http, RolloutServers = new[] { $"http://127.0.0.1:{server.Port}" }, WeightSync = WeightSyncMode.None,
        };
        string run = Path.Combine(dir.Path, "run");
        var progress = new Training.QuietProgress();
        var summary = TrainingRun.Execute(config, run, progress, stopRequested: () => server.Stalled);
        Assert.Equal("interrupted", summary.Stopped);
        Assert.Equal(1, summary.Steps);
        Assert.Equal(1, Checkpoints.ReadState(summary.LastCheckpoint!).Step);
        Assert.Contains(progress.Stages, s => s.StartsWith("stop: stopped during the rollout of step 2", StringComparison.Ordinal));

        server.AnswerFirst = int.MaxValue;
        server.Stalled = false;
        var resumed = TrainingRun.Resume(run, new Training.QuietProgress());
        Assert.Null(resumed.Stopped);
        Assert.Equal(3, resumed.Steps);
    }
}
