# Short name of configs/rgpnet/rgpnet_r101-d32_2xb6-80k_camvid-352x480.py
_base_ = ['./rgpnet/rgpnet_r101-d32_2xb6-80k_camvid-352x480.py']
