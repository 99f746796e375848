using System.Net;

namespace MiniDocker.Images.Tests;

/// <summary>An HTTP server on a free loopback port for the blob tests: every request is answered by a callback given the
/// request's number (from 1) and its Range header; a callback that throws aborts that response.</summary>
public static class LoopbackHttpServer
{
    public static (HttpListener Listener, int Port, Func<int> Requests) Serve(Func<int, string?, HttpListenerResponse, Task> answer)
    {
        for (var attempt = 0; ; attempt++)
        {
            var port = Random.Shared.Next(20000, 60000);
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                continue;
            }
            var requests = 0;
            _ = Task.Run(async () =>
            {
                while (listener.IsListening)
                {
                    HttpListenerContext context;
                    try
                    {
                        context = await listener.GetContextAsync();
                    }
                    catch (Exception)
                    {
                        return;
                    }
                    try
                    {
                        await answer(Interlocked.Increment(ref requests), context.Request.Headers["Range"], context.Response);
                    }
                    catch (Exception)
                    {
                        context.Response.Abort();
                    }
                }
            });
            return (listener, port, () => Volatile.Read(ref requests));
        }
    }
}
