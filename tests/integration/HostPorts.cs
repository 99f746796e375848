using System.Net;
using System.Net.Sockets;

namespace MiniDocker.IntegrationTests;

/// <summary>Host ports for publishing tests, and fetching from them the way a user's curl would.</summary>
public static class HostPorts
{
    /// <summary>A TCP port on 127.0.0.1 that was free a moment ago.</summary>
    public static int Free()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>The body at <paramref name="url"/>, retried for about 3 s while the server starts.</summary>
    public static string Fetch(string url)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        for (int i = 0; ; i++)
        {
            try { return http.GetStringAsync(url).GetAwaiter().GetResult(); }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && i < 30) { Thread.Sleep(100); }
        }
    }
}
