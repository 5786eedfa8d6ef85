using System.Net;
using System.Net.Sockets;

namespace GspoSharp.Tests.Rollout;

/// <summary>Loopback ports for tests' own HTTP servers, chosen so that no other test or process can take them first.</summary>
internal static class LoopbackPorts
{
    /// <summary>An <see cref="HttpListener"/> started on a free 127.0.0.1 port. A port found free can be taken before the
    /// listener binds it, so a refused start tries another port.</summary>
    public static (HttpListener Listener, int Port) StartListener()
    {
        for (int attempt = 1; ; attempt++)
        {
            int port;
            using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
            {
                probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                port = ((IPEndPoint)probe.LocalEndPoint!).Port;
            }
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
                return (listener, port);
            }
            catch (HttpListenerException) when (attempt < 10)
            {
                listener.Close();
            }
        }
    }

    /// <summary>A 127.0.0.1 port held bound but not listening while the socket lives: connections to it are refused,
    /// and nothing else can bind it meanwhile.</summary>
    public static Socket Refusing(out int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        return socket;
    }
}
