using System.Collections.Concurrent;
using System.Net;

namespace MiniDocker.IntegrationTests;

/// <summary>
/// An HTTP proxy on 127.0.0.1 in front of a <see cref="LocalRegistry"/>: it forwards every request, records each (method,
/// path, Range) so a test can count blob GETs, and can misbehave on one blob: stall after some bytes (until disposed,
/// for a test to kill the pull mid-download) or cut the connection after some bytes, once.
/// </summary>
public sealed class CountingProxy : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly HttpClient _upstream = new(new SocketsHttpHandler { AllowAutoRedirect = false });
    private readonly string _registry;
    private readonly ConcurrentQueue<(string Method, string Path, string? Range)> _requests = new();
    private readonly CancellationTokenSource _stop = new();
    private long _sentOfSlowBlob;

    public int Port { get; }
    public string Host => $"127.0.0.1:{Port}";

    /// <summary>The blob that misbehaves, and after how many bytes.</summary>
    public string? SlowBlob { get; set; }
    public long After { get; set; }
    /// <summary>Stall (true: hold the connection open, send nothing more) or cut (false: reset it, once).</summary>
    public bool Stall { get; set; }

    /// <summary>Bytes of <see cref="SlowBlob"/> sent so far.</summary>
    public long SentOfSlowBlob => Interlocked.Read(ref _sentOfSlowBlob);

    public CountingProxy(LocalRegistry registry)
    {
        _registry = registry.Host;
        for (var attempt = 0; ; attempt++)
        {
            Port = HostPorts.Free();
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add($"http://{Host}/");
            try
            {
                _listener.Start();
                break;
            }
            catch (HttpListenerException) when (attempt < 5)
            {
            }
        }
        _ = Task.Run(Serve);
    }

    public IReadOnlyList<(string Method, string Path, string? Range)> Requests => _requests.ToList();

    /// <summary>GET requests for one blob so far.</summary>
    public int BlobGets(string digest) => _requests.Count(r => r.Method == "GET" && r.Path.EndsWith($"/blobs/{digest}", StringComparison.Ordinal));

    private async Task Serve()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (HttpListenerException)
            {
                return;
            }
            _ = Task.Run(() => Forward(context));
        }
    }

    private async Task Forward(HttpListenerContext context)
    {
        var path = context.Request.Url!.PathAndQuery;
        var range = context.Request.Headers["Range"];
        _requests.Enqueue((context.Request.HttpMethod, context.Request.Url.AbsolutePath, range));
        try
        {
            using var request = new HttpRequestMessage(new HttpMethod(context.Request.HttpMethod), $"http://{_registry}{path}");
            foreach (var name in new[] { "Accept", "Range", "Authorization" })
                if (context.Request.Headers.GetValues(name) is { } values)
                    request.Headers.TryAddWithoutValidation(name, values);
            using var response = await _upstream.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, _stop.Token);
            context.Response.StatusCode = (int)response.StatusCode;
            foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
            {
                if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                    context.Response.ContentLength64 = long.Parse(values.First());
                else if (!name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) && !name.Equals("Keep-Alive", StringComparison.OrdinalIgnoreCase))
                    try { context.Response.Headers[name] = string.Join(",", values); } catch (ArgumentException) { } // restricted (WWW-Authenticate)
            }
            await using var body = await response.Content.ReadAsStreamAsync(_stop.Token);
            var slow = SlowBlob is { } digest && context.Request.HttpMethod == "GET" && path.EndsWith($"/blobs/{digest}", StringComparison.Ordinal);
            var buffer = new byte[16 << 10];
            int n;
            while ((n = await body.ReadAsync(buffer, _stop.Token)) > 0)
            {
                if (slow && Interlocked.Read(ref _sentOfSlowBlob) + n > After)
                {
                    var room = (int)Math.Max(0, After - Interlocked.Read(ref _sentOfSlowBlob));
                    await context.Response.OutputStream.WriteAsync(buffer.AsMemory(0, room), _stop.Token);
                    await context.Response.OutputStream.FlushAsync(_stop.Token);
                    Interlocked.Add(ref _sentOfSlowBlob, room);
                    if (Stall)
                        await Task.Delay(Timeout.Infinite, _stop.Token);
                    SlowBlob = null; // a cut happens once: the resumed request is served in full
                    context.Response.Abort();
                    return;
                }
                await context.Response.OutputStream.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
                if (slow)
                    Interlocked.Add(ref _sentOfSlowBlob, n);
            }
            context.Response.Close();
        }
        catch (Exception)
        {
            // The client went away (a killed pull) or the proxy is stopping.
            try { context.Response.Abort(); } catch (Exception) { }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        try { _listener.Stop(); } catch (ObjectDisposedException) { }
        _listener.Close();
        _upstream.Dispose();
    }
}
