#!/usr/bin/env python3
"""The MNIST_TINY recipe of tests/nn/test_train_mnist_tiny.cpp and examples/mnist_cnn.cpp (simple_cnn 1-8-16-32-2 with
BatchNorm, kaiming init, SGD lr 0.05 momentum 0.9, batch 64) in torch, over 5 seeds: validation accuracy 0.973-0.983.

    /usr/bin/python3 tools/golden/check_mnist_cnn_recipe.py 0.05 4   # lr, epochs
"""
import numpy as np, torch, torch.nn as nn, sys
b = open('examples/data/mnist_tiny.bin','rb').read(); pos=8; sp=[]
for s in range(2):
    n = int(np.frombuffer(b[pos:pos+4], np.uint32)[0]); pos+=4
    y = torch.tensor(np.frombuffer(b[pos:pos+n], np.uint8).astype(np.int64)); pos+=n
    x = torch.tensor(np.frombuffer(b[pos:pos+n*784], np.uint8).astype(np.float32)).view(n,1,28,28); pos+=n*784
    sp.append(((x/255-0.1307)/0.3081, y))
def cl(ni,nf,bn):
    c=nn.Conv2d(ni,nf,3,2,1,bias=not bn); nn.init.kaiming_normal_(c.weight)
    if c.bias is not None: nn.init.zeros_(c.bias)
    return [c]+([nn.BatchNorm2d(nf)] if bn else [])+[nn.ReLU()]
lr=float(sys.argv[1]); ep=int(sys.argv[2])
for seed in range(5):
    torch.manual_seed(seed)
    a=[1,8,16,32,2]; L=[]
    for i in range(4): L+=cl(a[i],a[i+1],i<3)
    m=nn.Sequential(*L, nn.AdaptiveAvgPool2d(1), nn.Flatten())
    opt=torch.optim.SGD(m.parameters(), lr=lr, momentum=0.9)
    (xt,yt),(xv,yv)=sp
    for e in range(ep):
        m.train(); perm=torch.randperm(len(yt))
        for i in range(0,len(yt),64):
            idx=perm[i:i+64]; loss=nn.functional.cross_entropy(m(xt[idx]),yt[idx]); opt.zero_grad(); loss.backward(); opt.step()
    m.eval()
    with torch.no_grad(): print(seed, (m(xv).argmax(1)==yv).float().mean().item())
