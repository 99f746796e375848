using System.Text;
using System.Text.Json.Nodes;

namespace MiniDocker.Cli.Templates;

/// <summary>
/// Runs a parsed template over a value, as Go's text/template exec does with Docker's settings: a missing map key is
/// an error ("map has no entry for key"), and errors name the place: "template: :1:2: executing "" at &lt;.Nope&gt;: ...".
/// </summary>
internal sealed class Executor(string text, StringBuilder output, IReadOnlyDictionary<string, TemplateFunction> functions, bool header)
{
    /// <summary>No value yet: the first command of a pipeline gets no argument from a previous one.</summary>
    private static readonly object Missing = new();

    private sealed class BreakSignal : Exception;
    private sealed class ContinueSignal : Exception;

    private readonly List<(string Name, object? Value)> _vars = new();
    private Node? _at;

    public void Run(ListNode root, object? data)
    {
        _vars.Add(("$", data));
        Walk(data, root);
    }

    private TemplateException Error(string message)
    {
        if (_at is null) return new TemplateException($"template: : {message}");
        int pos = Math.Min(_at.Pos, text.Length);
        int lineStart = pos == 0 ? 0 : text.LastIndexOf('\n', pos - 1) + 1;
        int line = 1 + text.AsSpan(0, pos).Count('\n');
        int column = Encoding.UTF8.GetByteCount(text.AsSpan(lineStart, pos - lineStart));
        string context = _at.ToString();
        if (context.Length > 20) context = context[..20] + "...";
        return new TemplateException($"template: :{line}:{column}: executing \"\" at <{context}>: {message}");
    }

    private void Walk(object? dot, Node node)
    {
        switch (node)
        {
            case ActionNode action:
                var value = EvalPipeline(dot, action.Pipe);
                if (action.Pipe.Decl.Count == 0) output.Append(Values.Print(value));
                break;
            case TextNode t:
                output.Append(t.Text);
                break;
            case ListNode list:
                foreach (var n in list.Nodes) Walk(dot, n);
                break;
            case BranchNode { Kind: BranchKind.Range } range:
                WalkRange(dot, range);
                break;
            case BranchNode branch:
                WalkIfOrWith(dot, branch);
                break;
            case BreakNode:
                throw new BreakSignal();
            case ContinueNode:
                throw new ContinueSignal();
            default:
                _at = node;
                throw Error($"unknown node: {node}");
        }
    }

    private void WalkIfOrWith(object? dot, BranchNode branch)
    {
        int mark = _vars.Count;
        var value = EvalPipeline(dot, branch.Pipe);
        if (Values.Truth(value))
            Walk(branch.Kind == BranchKind.With ? value : dot, branch.List);
        else if (branch.Else is not null)
            Walk(dot, branch.Else);
        Pop(mark);
    }

    private void WalkRange(object? dot, BranchNode range)
    {
        _at = range;
        int outer = _vars.Count;
        var value = EvalPipeline(dot, range.Pipe);
        int mark = _vars.Count;
        var decl = range.Pipe.Decl;

        // False when {{break}} ended the loop.
        bool One(object? index, object? element)
        {
            if (decl.Count > 0)
            {
                if (range.Pipe.IsAssign) SetVar(decl[0].Ident[0], decl.Count > 1 ? index : element);
                else SetTopVar(1, element);
            }
            if (decl.Count > 1)
            {
                if (range.Pipe.IsAssign) SetVar(decl[1].Ident[0], element);
                else SetTopVar(2, index);
            }
            try { Walk(element, range.List); }
            catch (ContinueSignal) { }
            catch (BreakSignal) { return false; }
            finally { Pop(mark); }
            return true;
        }

        bool any = false;
        switch (value)
        {
            case JsonObject map:
                foreach (var (key, child) in map.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList())
                {
                    any = true;
                    if (!One(key, Values.FromNode(child))) break;
                }
                break;
            case long count:
                if (decl.Count > 1)
                    throw Error($"can't use {count} to iterate over more than one variable");
                for (long i = 0; i < count; i++)
                {
                    any = true;
                    if (!One(i, i)) break;
                }
                break;
            case null:
                break;
            default:
                // Reported where the pipeline left off, as Go does.
                if (!Values.IsList(value, out var items)) throw Error($"range can't iterate over {Values.Print(value)}");
                for (int i = 0; i < items.Count; i++)
                {
                    any = true;
                    if (!One((long)i, items[i])) break;
                }
                break;
        }
        if (!any && range.Else is not null) Walk(dot, range.Else);
        Pop(outer);
    }

    private object? EvalPipeline(object? dot, PipeNode pipe)
    {
        _at = pipe;
        object? value = Missing;
        foreach (var cmd in pipe.Cmds) value = EvalCommand(dot, cmd, value);
        foreach (var variable in pipe.Decl)
        {
            if (pipe.IsAssign) SetVar(variable.Ident[0], value);
            else _vars.Add((variable.Ident[0], value));
        }
        return value;
    }

    private object? EvalCommand(object? dot, CommandNode cmd, object? final)
    {
        var first = cmd.Args[0];
        switch (first)
        {
            case FieldNode field: return EvalFieldNode(dot, field, cmd.Args, final);
            case ChainNode chain: return EvalChainNode(dot, chain, cmd.Args, final);
            case IdentifierNode identifier: return EvalFunction(dot, identifier, cmd, cmd.Args, final);
            case PipeNode pipe:
                NotAFunction(cmd.Args, final);
                return EvalPipeline(dot, pipe);
            case VariableNode variable: return EvalVariableNode(dot, variable, cmd.Args, final);
        }
        _at = first;
        NotAFunction(cmd.Args, final);
        return first switch
        {
            BoolNode b => b.Value,
            DotNode => dot,
            NilNode => throw Error("nil is not a command"),
            NumberNode n => n.Value,
            StringNode s => s.Text,
            _ => throw Error($"can't evaluate command {GoText.Quote(first.ToString())}"),
        };
    }

    private void NotAFunction(IReadOnlyList<Node>? args, object? final)
    {
        if ((args is not null && args.Count > 1) || final != Missing)
            throw Error($"can't give argument to non-function {args?[0]}");
    }

    private object? EvalFieldNode(object? dot, FieldNode field, IReadOnlyList<Node>? args, object? final)
    {
        _at = field;
        return EvalFieldChain(dot, field, field.Ident, args, final);
    }

    private object? EvalChainNode(object? dot, ChainNode chain, IReadOnlyList<Node>? args, object? final)
    {
        _at = chain;
        if (chain.Inner is NilNode) throw Error($"indirection through explicit nil in {chain}");
        var receiver = EvalArg(dot, chain.Inner);
        _at = chain;
        return EvalFieldChain(receiver, chain, chain.Field, args, final);
    }

    private object? EvalVariableNode(object? dot, VariableNode variable, IReadOnlyList<Node>? args, object? final)
    {
        _at = variable;
        var value = VarValue(variable.Ident[0]);
        if (variable.Ident.Length == 1)
        {
            NotAFunction(args, final);
            return value;
        }
        return EvalFieldChain(value, variable, variable.Ident[1..], args, final);
    }

    private object? EvalFieldChain(object? receiver, Node node, IReadOnlyList<string> ident, IReadOnlyList<Node>? args, object? final)
    {
        for (int i = 0; i < ident.Count - 1; i++) receiver = EvalField(ident[i], null, Missing, receiver);
        return EvalField(ident[^1], args, final, receiver);
    }

    private object? EvalField(string name, IReadOnlyList<Node>? args, object? final, object? receiver)
    {
        // Docker runs inspect templates with missingkey=error: a missing key is an error, and so is a path through
        // null (a nil interface{} in Go's map).
        if (receiver is null) throw Error($"nil pointer evaluating interface {{}}.{name}");
        if (receiver is not JsonObject map) throw Error($"can't evaluate field {name} in type {Values.TypeName(receiver)}");
        if ((args is not null && args.Count > 1) || final != Missing) throw Error($"{name} is not a method but has arguments");
        if (map.TryGetPropertyValue(name, out var child)) return Values.FromNode(child);
        // A table's header row: a column without a known name is headed by its field's name.
        if (header) return name.ToUpperInvariant();
        throw Error($"map has no entry for key {GoText.Quote(name)}");
    }

    private object? EvalFunction(object? dot, IdentifierNode node, Node cmd, IReadOnlyList<Node>? args, object? final)
    {
        _at = node;
        string name = node.Name;
        if (!functions.TryGetValue(name, out var function)) throw Error($"{GoText.Quote(name)} is not a defined function");
        var argNodes = args is null ? [] : args.Skip(1).ToList();
        int count = argNodes.Count + (final == Missing ? 0 : 1);
        if (count < function.Min || (function.Max >= 0 && count > function.Max))
            throw Error(function.Max == function.Min
                ? $"wrong number of args for {name}: want {function.Min} got {count}"
                : $"wrong number of args for {name}: want at least {function.Min} got {count}");

        if (name is "and" or "or")
        {
            // Go evaluates and/or lazily: the first argument that decides the result is the result.
            object? v = null;
            foreach (var arg in argNodes)
            {
                v = EvalArg(dot, arg);
                if (Values.Truth(v) == (name == "or")) return v;
            }
            return final != Missing ? final : v;
        }

        var values = new List<object?>(count);
        foreach (var arg in argNodes) values.Add(EvalArg(dot, arg));
        if (final != Missing) values.Add(final);
        try
        {
            return function.Call(values);
        }
        catch (FunctionException e)
        {
            _at = cmd;
            throw Error($"error calling {name}: {e.Message}");
        }
        catch (ArgumentTypeException e)
        {
            // At the argument, as Go checks each argument's type while evaluating it; the piped-in value has no node.
            _at = e.Index < argNodes.Count ? argNodes[e.Index] : cmd;
            throw Error(e.Message);
        }
    }

    private object? EvalArg(object? dot, Node node)
    {
        _at = node;
        return node switch
        {
            DotNode => dot,
            NilNode => null,
            FieldNode field => EvalFieldNode(dot, field, [field], Missing),
            VariableNode variable => EvalVariableNode(dot, variable, null, Missing),
            PipeNode pipe => EvalPipeline(dot, pipe),
            IdentifierNode identifier => EvalFunction(dot, identifier, identifier, null, Missing),
            ChainNode chain => EvalChainNode(dot, chain, null, Missing),
            BoolNode b => b.Value,
            NumberNode n => n.Value,
            StringNode s => s.Text,
            _ => throw Error($"can't handle {node} for arg"),
        };
    }

    private object? VarValue(string name)
    {
        for (int i = _vars.Count - 1; i >= 0; i--)
            if (_vars[i].Name == name) return _vars[i].Value;
        throw Error($"undefined variable: {name}");
    }

    private void SetVar(string name, object? value)
    {
        for (int i = _vars.Count - 1; i >= 0; i--)
        {
            if (_vars[i].Name != name) continue;
            _vars[i] = (name, value);
            return;
        }
        throw Error($"undefined variable: {name}");
    }

    private void SetTopVar(int n, object? value) => _vars[^n] = (_vars[^n].Name, value);

    private void Pop(int mark) => _vars.RemoveRange(mark, _vars.Count - mark);
}
