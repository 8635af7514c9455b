# Small torch.save and torch.package archives for the fuzz corpus, written without torch:
# stand-in modules named as torch names them, pickled with persistent ids as torch does.
import io, pickle, struct, sys, types, zipfile, collections

def module(name):
    m = types.ModuleType(name); sys.modules[name] = m; return m

torch = module('torch'); tu = module('torch._utils')
for n in ['FloatStorage', 'DoubleStorage', 'LongStorage']:
    cls = type(n, (), {}); cls.__module__ = 'torch'; setattr(torch, n, cls)
def _rebuild_tensor_v2(*a): pass
_rebuild_tensor_v2.__module__ = 'torch._utils'; tu._rebuild_tensor_v2 = _rebuild_tensor_v2
def _rebuild_parameter(*a): pass
_rebuild_parameter.__module__ = 'torch._utils'; tu._rebuild_parameter = _rebuild_parameter

class Storage:
    def __init__(self, cls, key, values, fmt):
        self.cls, self.key, self.values, self.fmt = cls, key, values, fmt
    def raw(self): return struct.pack('<%d%s' % (len(self.values), self.fmt), *self.values)

class Tensor:
    def __init__(self, storage, shape, stride, param=False):
        self.storage, self.shape, self.stride, self.param = storage, shape, stride, param
    def __reduce_ex__(self, proto):
        t = (_rebuild_tensor_v2, (self.storage, 0, self.shape, self.stride, False, collections.OrderedDict()))
        return (_rebuild_parameter, (t[1][0:0] or Reduced(t), True, collections.OrderedDict())) if self.param else t

class Reduced:
    def __init__(self, t): self.t = t
    def __reduce_ex__(self, proto): return self.t

class P(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ('storage', obj.cls, obj.key, 'cpu', len(obj.values))
        return None

def dumps(obj):
    b = io.BytesIO(); P(b, protocol=2).dump(obj); return b.getvalue()

s0 = Storage(torch.FloatStorage, '0', [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 'f')
s1 = Storage(torch.DoubleStorage, '1', [0.5], 'd')
s2 = Storage(torch.LongStorage, '2', [1, 6, 8], 'q')
state = collections.OrderedDict([
    ('model.w', Tensor(s0, (2, 3), (3, 1))), ('model.wt', Tensor(s0, (3, 2), (1, 3))),
    ('model.r', Tensor(s1, (), ())), ('model.z', Tensor(s2, (3,), (1,)))])
ckpt = {'epoch': 3, 'state_dict': state,
        'hyper_parameters': {'model': {'_target_': 'allegro.model.AllegroModel', 'r_max': 6.0,
                                       'type_names': ['H', 'C'], 'l_max': 1}}}
with zipfile.ZipFile('tiny-save.ckpt', 'w', zipfile.ZIP_STORED) as z:
    z.writestr('archive/data.pkl', dumps(ckpt))
    z.writestr('archive/byteorder', 'little')
    for s in (s0, s1, s2):
        z.writestr('archive/data/%s' % s.key, s.raw())
    z.writestr('archive/version', '3\n')

# torch.package: a module tree (classes of nequip and torch.nn) with one parameter.
for p in ['nequip', 'nequip.nn', 'torch.nn', 'torch.nn.modules']:
    module(p)
def cls(modname, name):
    m = sys.modules.get(modname) or module(modname)
    c = type(name, (), {}); c.__module__ = modname; setattr(m, name, c); return c
Graph = cls('nequip.nn.graph_model', 'GraphModel'); Lin = cls('torch.nn.modules.linear', 'Linear')
class Mod:
    def __init__(self, c, state): self.c, self.state = c, state
    def __reduce_ex__(self, proto): return (self.c, (), self.state)
inner = Mod(Lin, {'_parameters': collections.OrderedDict([('weight', Tensor(s0, (2, 3), (3, 1), param=True))]),
                  '_buffers': collections.OrderedDict(), '_modules': collections.OrderedDict()})
root = Mod(Graph, {'_parameters': collections.OrderedDict(), '_buffers': collections.OrderedDict([('r', Tensor(s1, (), ()))]),
                   '_modules': collections.OrderedDict([('lin', inner)])})
class PP(P):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ('storage', obj.cls, int(obj.key), 'cpu', len(obj.values))
        return None
b = io.BytesIO(); PP(b, protocol=3).dump(root)
with zipfile.ZipFile('tiny.nequip.zip', 'w', zipfile.ZIP_STORED) as z:
    z.writestr('tiny.nequip/model/eager_model.pkl', b.getvalue())
    z.writestr('tiny.nequip/model/config.yaml', 'training_module:\n  model:\n    _target_: allegro.model.AllegroModel\n    r_max: 6.0\n')
    z.writestr('tiny.nequip/byteorder', 'little')
    for s in (s0, s1):
        z.writestr('tiny.nequip/.data/%s.storage' % s.key, s.raw())
