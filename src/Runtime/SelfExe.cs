namespace MiniDocker.Runtime;

/// <summary>How to start this program again in another role (init, monitor). A NativeAOT build is one file at
/// /proc/self/exe; a framework-dependent build (tests, `dotnet run`) is the dotnet host plus the entry assembly.</summary>
public static class SelfExe
{
    public static (string Path, List<string> ArgvPrefix) Command()
    {
        string exe = Environment.ProcessPath ?? "/proc/self/exe";
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet")
        {
            string assembly = Environment.GetCommandLineArgs()[0];
            return (exe, [exe, assembly]);
        }
        return (exe, ["minidocker"]);
    }
}
