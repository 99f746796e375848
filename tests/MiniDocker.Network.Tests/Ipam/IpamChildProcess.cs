using System.Net;
using MiniDocker.Network;

/// <summary>
/// Lets IpamParallelTests run allocations in separate processes without a helper project: the test starts
/// "dotnet MiniDocker.Network.Tests.dll" (whose generated Main does nothing) with DOTNET_STARTUP_HOOKS pointing at
/// this assembly, and the runtime calls Initialize before Main. Outside such a child the variable is unset and
/// this does nothing. The runtime requires this exact type name in the global namespace.
/// </summary>
internal static class StartupHook
{
    public const string Variable = "MDK_IPAM_CHILD";

    public static void Initialize()
    {
        string? request = Environment.GetEnvironmentVariable(Variable);
        if (request is null)
            return;
        // stateRoot|network|subnet|owner|goFile
        string[] fields = request.Split('|');
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!File.Exists(fields[4]) && DateTime.UtcNow < deadline)
                Thread.Sleep(5);
            Subnet subnet = Subnet.Parse(fields[2]);
            IPAddress address = new Ipam(fields[0]).Allocate(fields[1], subnet, subnet.FirstHost, fields[3], null);
            Console.Out.Write(address.ToString());
            Console.Out.Flush();
            Environment.Exit(0);
        }
        catch (Exception e)
        {
            Console.Error.Write(e.Message);
            Console.Error.Flush();
            Environment.Exit(1);
        }
    }
}
