using System.CommandLine;
using MiniDocker.Cli;
using MiniDocker.Cli.Commands;
using MiniDocker.Linux;

// The container's init is this binary re-executed: keep its path free of argument parsing, it runs once per
// container start and before the user's program.
if (args.Length == 2 && args[0] == "init")
    return MiniDocker.Runtime.Init.ContainerInit.Run(args[1]);
// Likewise exec's: it has no --root, and the state root's checks (firewall choice) are not its business.
if (args is ["exec-init"])
    return MiniDocker.Runtime.Init.ExecInit.Run();
// The IPv6 port relay a publishing run starts (see PortProxy): a long-lived process, no argument parsing either.
if (args.Length > 0 && args[0] == MiniDocker.Network.PortProxy.Verb)
    return MiniDocker.Network.PortProxy.Serve(args[1..]);
MiniDocker.Network.PortProxy.Executable = Environment.ProcessPath;

var root = new RootCommand("MiniDocker: a small container runtime with networking built in");
root.Options.Add(Globals.Root);
root.Options.Add(Globals.Firewall);
root.Options.Add(Globals.Debug);
// Docker's `run -h` is --hostname; help stays on --help.
foreach (var help in root.Options.OfType<System.CommandLine.Help.HelpOption>()) help.Aliases.Remove("-h");
foreach (var command in Verbs.For(CommandSplitter.VerbOf(root, args))) root.Subcommands.Add(command);

// The one place a failure becomes what the user sees: one line, Docker's exit code; the stack trace only with
// -D/--debug or MINIDOCKER_DEBUG=1.
bool debug = args.Contains("-D") || args.Contains("--debug") || Environment.GetEnvironmentVariable("MINIDOCKER_DEBUG") == "1";
try
{
    var parsed = root.Parse(CommandSplitter.Split(root, args));
    if (parsed.Errors.Count > 0)
    {
        Console.Error.WriteLine($"minidocker: {parsed.Errors[0].Message}");
        Console.Error.WriteLine("See 'minidocker --help'.");
        return ExitCodes.RuntimeError;
    }
    if (!IsHelp(parsed) && Libc.geteuid() != 0)
        throw new MiniDockerException($"must be run as root (this is uid {Libc.geteuid()}): it creates namespaces, mounts, network interfaces and firewall rules");
    Globals.CheckFirewallChoice(parsed);
    return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (UsageException e)
{
    Console.Error.WriteLine($"minidocker: {e.Message}");
    Console.Error.WriteLine(e.Hint);
    if (debug) Console.Error.WriteLine(e);
    return e.ExitCode;
}
catch (Exception e)
{
    Console.Error.WriteLine($"minidocker: {Describe(e)}");
    if (debug) Console.Error.WriteLine(e);
    return e is MiniDockerException m ? m.ExitCode : ExitCodes.RuntimeError;
}

static bool IsHelp(ParseResult parsed) =>
    parsed.Action is System.CommandLine.Help.HelpAction || parsed.CommandResult.Command is RootCommand || parsed.Tokens.Any(t => t.Value is "--help" or "-?");

// Anything that is not ours (disk full, a permission, memory) is still said in one line, naming what failed.
static string Describe(Exception e)
{
    string message = e is OutOfMemoryException ? "out of memory" : e.Message;
    message = message.ReplaceLineEndings(" ").Trim();
    return message.Length > 400 ? message[..400] + "..." : message;
}
